//! Library nodes for benchmarks: configured for loopback only (127.0.0.1; relays, mDNS and the
//! portmapper off), waiting until one holds what it should, reading its sessions.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use humansync::{
    DeviceId, DocId, Event, HumanSyncConfig, Node, NodeStats, Origin, RelayConfig, SessionCounters,
};
use tokio::sync::broadcast::error::RecvError;

use crate::timeline::Timeline;

/// The data key source of every benchmark node: encrypted at rest as devices are by default,
/// or plain with `HUMANSYNC_BENCH_ENCRYPTION=off` (to measure the cost, issue 21).
pub fn data_key() -> humansync::KeySource {
    match std::env::var("HUMANSYNC_BENCH_ENCRYPTION").as_deref() {
        Ok("off") => humansync::KeySource::Off,
        _ => humansync::KeySource::DeviceFile,
    }
}

/// The address benchmark nodes bind: `HUMANSYNC_BENCH_BIND` (a process started inside an
/// emulated link's namespace is given its address there), else 127.0.0.1.
pub fn bind_ip() -> std::net::IpAddr {
    std::env::var("HUMANSYNC_BENCH_BIND")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
}

/// A node configuration for the benchmarks: [`bind_ip`] (127.0.0.1), relays, mDNS and
/// portmapper off; the store encrypted unless [`data_key`] says otherwise.
pub fn config(dir: &Path) -> HumanSyncConfig {
    config_at(dir, bind_ip())
}

/// [`config`] bound to `ip`.
pub fn config_at(dir: &Path, ip: std::net::IpAddr) -> HumanSyncConfig {
    let mut config = HumanSyncConfig::new(dir);
    config.data_key = data_key();
    config.bind_addr = Some(ip);
    config.relay = RelayConfig::Disabled;
    config.mdns = false;
    config
}

/// Starts a node stored under `dir` with [`config`].
pub async fn start(dir: &Path) -> Node {
    humansync::init(config(dir)).await.expect("node starts")
}

/// Starts a node stored under `dir` bound to `ip`.
pub async fn start_at(dir: &Path, ip: std::net::IpAddr) -> Node {
    humansync::init(config_at(dir, ip)).await.expect("node starts")
}

/// The open session with `peer` in `stats`, if any.
pub fn session_with(stats: &NodeStats, peer: DeviceId) -> Option<&SessionCounters> {
    stats.sessions.iter().find(|s| s.peer == peer && s.open)
}

/// Counts the distinct notes a peer changed from now on (events seen by a background task).
pub fn count_remote_changes(node: &Node) -> Arc<Mutex<BTreeSet<DocId>>> {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let mut events = node.events();
    let out = seen.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::DocChanged {
                    doc,
                    origin: Origin::Remote(_),
                }) if doc.as_str().starts_with("notes/") => {
                    out.lock().expect("not poisoned").insert(doc);
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
    seen
}

/// Waits until `node` holds at least `docs` live documents under `notes/`, has seen `changed.1`
/// notes changed remotely (counted by [`count_remote_changes`]), has a session to `peer` that is up
/// to date, and every received document is durable. Polls every millisecond for the first 50 ms,
/// then every 5 ms. Panics after `limit`.
pub async fn wait_synced(
    node: &Node,
    peer: DeviceId,
    docs: usize,
    changed: (&Mutex<BTreeSet<DocId>>, usize),
    limit: Duration,
) -> NodeStats {
    wait_synced_traced(node, peer, docs, changed, limit, None).await.0
}

/// [`wait_synced`], marking on `timeline` the first poll at which each condition held; also
/// returns when the node was seen in sync: just before the counters that showed no I/O pending
/// were asked for — not after they returned, since [`Node::stats`] then walks the store's files
/// (10,000 notes: ~20 ms of the bench's own, not of the sync), nor after the listing check.
pub async fn wait_synced_traced(
    node: &Node,
    peer: DeviceId,
    docs: usize,
    changed: (&Mutex<BTreeSet<DocId>>, usize),
    limit: Duration,
    timeline: Option<&Timeline>,
) -> (NodeStats, Instant) {
    let start = Instant::now();
    loop {
        let status = node.sync_status().await.expect("status");
        let up = status.peers.iter().any(|p| p.peer == peer && p.up_to_date);
        let seen = changed.0.lock().expect("not poisoned").len();
        if let Some(t) = timeline {
            if status.peers.iter().any(|p| p.peer == peer) {
                t.mark("poll: session open");
            }
            if status.docs > 0 {
                t.mark("poll: first document held");
            }
            if status.docs >= docs {
                t.mark("poll: every document held");
            }
            if status.docs_pending == 0 && status.docs >= docs {
                t.mark("poll: … and none pending");
            }
            if up {
                t.mark("poll: peer up to date");
            }
        }
        if up && status.docs >= docs && status.docs_pending == 0 && seen >= changed.1 {
            let asked = Instant::now();
            let stats = node.stats().await.expect("stats");
            if let Some(t) = timeline {
                t.mark(&format!("poll: all but io ({} io pending)", stats.io_pending));
            }
            if stats.io_pending == 0 && node.list_docs("notes/").await.expect("list").len() >= docs {
                if let Some(t) = timeline {
                    t.mark("poll: done");
                }
                return (stats, asked);
            }
        }
        assert!(start.elapsed() < limit, "not synced after {limit:?}: {status:?}");
        if std::env::var_os("HS_BENCH_DEBUG").is_some() && start.elapsed().as_millis() % 1000 < 5 {
            eprintln!("waiting: {status:?} {:?}", node.stats().await);
        }
        let pause = if start.elapsed() < Duration::from_millis(50) {
            1
        } else {
            5
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Milliseconds since `t`.
pub fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
