//! Benchmark 8: revocation. A server (the `humansync-server` library the binary runs, in this
//! process so that its node's events can be watched; started as the integration tests start it,
//! `server/tests/support`: loopback only, relays and mDNS off) and three paired devices: R, and A
//! and B, each connected to the server and directly to R. The clock starts when `DELETE /devices/{R}`
//! (HS-HTTP-4, admin password) is sent and stops, per peer, when that peer holds no session with
//! R any more (HS-GATE-4): the server closes R's connections before it answers; A and B close
//! theirs when the Revoked record reaches them.
//!
//! A peer's closing is observed on its own side: the `PeerDisconnected` event for R (timestamped
//! as it arrives), confirmed by `Node::stats()` listing no session with R; a 5 ms poll of the
//! sessions catches a close that no event reported.

use std::time::{Duration, Instant};

use humansync::{DeviceId, Event, Node};
use humansync_benchkit::node::{config, ms_since, session_with};
use humansync_benchkit::report::Report;
use humansync_server::Overrides;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::support::{PASSWORD, start_server};
use crate::{Size, tempdir};

/// How long set-up and each close may take before the run fails.
const LIMIT: Duration = Duration::from_secs(30);
/// Poll of a peer's sessions between events.
const POLL: Duration = Duration::from_millis(5);

/// When a peer stopped holding sessions with the revoked device, and whether an event said so.
struct Closed {
    at: Instant,
    by_event: bool,
}

/// Runs benchmark 8 `size.runs` times.
pub async fn run(size: &Size, report: &mut Report) {
    for run in 0..size.runs {
        let dir = tempdir();
        let server = start_server(&dir.path().join("server"), Overrides::default()).await;
        let url = format!("http://{}", server.http_addr());
        let r = device(&dir.path().join("r"), &url).await;
        let a = device(&dir.path().join("a"), &url).await;
        let b = device(&dir.path().join("b"), &url).await;
        for peer in [&a, &b] {
            peer.add_peer_addrs(r.id(), r.addrs()).await.expect("addrs");
        }
        let server_node = server.node().clone();
        for (node, peer) in [
            (&server_node, r.id()),
            (&a, r.id()),
            (&b, r.id()),
            (&a, server.id()),
            (&b, server.id()),
        ] {
            wait_for_session(node, peer).await;
        }

        let watchers: Vec<(&str, JoinHandle<Closed>)> =
            [("the server", &server_node), ("device A", &a), ("device B", &b)]
                .into_iter()
                .map(|(name, node)| (name, watch_closed(node.clone(), r.id())))
                .collect();
        let t0 = Instant::now();
        // Device A revokes R with the password: an OPAQUE login (argon2id on A) and the DELETE.
        let revoked = a
            .revoke_device(r.id(), PASSWORD, Some(url.as_str()))
            .await
            .expect("revocation login and DELETE /devices");
        let answered_ms = ms_since(t0);
        assert_eq!(revoked.node_id, r.id());

        let mut worst = 0f64;
        let mut closed = 0;
        let mut by_event = 0;
        let mut line = format!("8 run {run}: DELETE answered in {answered_ms:.1} ms");
        for (name, watcher) in watchers {
            let seen = tokio::time::timeout(LIMIT, watcher)
                .await
                .unwrap_or_else(|_| panic!("{name} still holds a session with the revoked device"))
                .expect("watcher");
            let ms = seen.at.duration_since(t0).as_secs_f64() * 1e3;
            worst = worst.max(ms);
            closed += 1;
            by_event += usize::from(seen.by_event);
            line.push_str(&format!("; {name} closed at {ms:.1} ms"));
            report.add(
                "8",
                &format!("revocation: connections closed on {name}"),
                "ms",
                "",
                ms,
            );
        }
        eprintln!("{line}");
        assert_eq!(
            closed, 3,
            "every peer closed its connections to the revoked device"
        );
        report.add(
            "8",
            "revocation: DELETE sent to connections closed on every peer (max of the three)",
            "ms",
            "≤ 1,000 ms",
            worst,
        );
        report.add(
            "8",
            "… DELETE answered (OPAQUE login included: argon2id runs on the device)",
            "ms",
            "",
            answered_ms,
        );
        report.add(
            "8",
            "peers that closed the revoked device's connections",
            "peers",
            "3",
            closed as f64,
        );
        report.add(
            "8",
            "… of which seen by a PeerDisconnected event",
            "peers",
            "",
            by_event as f64,
        );

        for node in [r, a, b] {
            node.shutdown().await.expect("device shutdown");
        }
        server.shutdown().await.expect("server shutdown");
    }
}

/// A device under `dir`, paired with the server at `url` by `POST /pair`.
async fn device(dir: &std::path::Path, url: &str) -> Node {
    let node = humansync::init(config(dir)).await.expect("device starts");
    node.pair_with(url, PASSWORD).await.expect("POST /pair");
    node
}

/// Waits until `node` has an open session with `peer`.
async fn wait_for_session(node: &Node, peer: DeviceId) {
    let start = Instant::now();
    while session_with(&node.stats().await.expect("stats"), peer).is_none() {
        assert!(start.elapsed() < LIMIT, "{} never connected to {peer}", node.id());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Watches `node` until it holds no session (open or in its handshake) with `peer`; the time is
/// that of the last `PeerDisconnected` event for `peer` if one came, else of the poll that saw it.
fn watch_closed(node: Node, peer: DeviceId) -> JoinHandle<Closed> {
    let mut events = node.events();
    tokio::spawn(async move {
        let mut last_event = None;
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(Event::PeerDisconnected { peer: p, .. }) if p == peer => last_event = Some(Instant::now()),
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => panic!("{} stopped", node.id()),
                },
                _ = poll.tick() => {}
            }
            let stats = node.stats().await.expect("stats");
            if !stats.sessions.iter().any(|s| s.peer == peer) {
                return match last_event {
                    Some(at) => Closed { at, by_event: true },
                    None => Closed {
                        at: Instant::now(),
                        by_event: false,
                    },
                };
            }
        }
    })
}
