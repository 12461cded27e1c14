//! Issue 16 §1, black-box: a registered device sends Automerge bytes built to inflate —
//! compressed change chunks (type 2) and DEFLATE'd columns in document chunks, checksums valid,
//! ~1 KiB per MiB inflated — as whole documents, sync messages and change sets, repeatedly, on
//! several sessions, to the real `humansync-server` binary on loopback (HS-SYNC-10, HS-SYNC-12,
//! HS-SYNC-13).
//!
//! Asserted: the server's peak RSS stays within `RSS_BOUND` above its idle RSS (a watchdog
//! kills it the moment it is exceeded, so a failing run never takes the machine's memory); every
//! hostile session is closed with `CLOSE_PROTOCOL`; the bytes reach no third node; a second
//! device's edits keep reaching a third device through the server. Measured and printed (not
//! asserted as time): `GET /health` latency and the second device's sync latency during the
//! attack.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use humansync::{HumanSyncConfig, Node, RelayConfig};
use humansync_benchkit::proc::{Memory, mib};
use humansync_benchkit::server_process::ServerProcess;
use humansync_protocol::{CloseCode, DocDigest, DocId, Fingerprint, Message, SetSummary, encode_frame};
use humansync_sansio::testing::bombs;
use iroh::endpoint::{ConnectionError, PortmapperConfig, presets};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode, SecretKey, TransportAddr};
use support::PASSWORD;

const MIB: usize = 1 << 20;
/// What each bomb inflates to (Automerge before the fix held ~3× this per parse).
const INFLATED: usize = 1024 * MIB;
/// The bound on the server's peak RSS above idle under the attack (README, SPEC §9).
const RSS_BOUND_KIB: u64 = 256 * 1024;
/// Rounds of the whole sequence, alternating two attacker identities.
const ROUNDS: usize = 2;

fn device_config(dir: &Path, url: &str) -> HumanSyncConfig {
    let mut config = HumanSyncConfig::new(dir);
    config.bind_addr = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config.mdns = false;
    config.interval_secs = 1;
    config.server_url = Some(url.to_owned());
    config
}

/// A registered device that speaks the wire protocol by hand.
struct Attacker {
    endpoint: Endpoint,
    target: EndpointAddr,
}

impl Attacker {
    async fn pair(seed: u8, url: &str) -> Attacker {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let answer = support::pair(&support::client(), url, &key, "stolen phone", PASSWORD)
            .await
            .expect("the attacker pairs (a registered device)");
        let endpoint = Endpoint::builder(presets::Minimal)
            .relay_mode(RelayMode::Disabled)
            .portmapper_config(PortmapperConfig::Disabled)
            .secret_key(SecretKey::from_bytes(&[seed; 32]))
            .bind()
            .await
            .expect("bind");
        let id = EndpointId::from_bytes(answer.server_node_id.as_bytes()).expect("server id");
        let addrs: Vec<SocketAddr> = answer
            .server_addrs
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        let target = EndpointAddr::new(id).with_addrs(addrs.into_iter().map(TransportAddr::Ip));
        Attacker { endpoint, target }
    }

    /// One session: Hello, then `msgs`; returns the code the server closed it with, if it did
    /// within `wait`.
    async fn session(&self, msgs: &[Message], wait: Duration) -> Option<CloseCode> {
        let conn = self
            .endpoint
            .connect(self.target.clone(), humansync_protocol::SYNC_ALPN)
            .await
            .expect("connect");
        let (mut send, mut recv) = conn.open_bi().await.expect("stream");
        let hello = Message::Hello {
            versions: vec![1, 2],
            set: SetSummary {
                count: 0,
                fingerprint: Fingerprint::EMPTY,
            },
            devices: DocDigest::default(),
        };
        let _ = send.write_all(&encode_frame(&hello).expect("frame")).await;
        // Whatever the server says is read and dropped.
        let reader = tokio::spawn(async move { while let Ok(Some(_)) = recv.read_chunk(64 * 1024).await {} });
        for msg in msgs {
            if send.write_all(&encode_frame(msg).expect("frame")).await.is_err() {
                break;
            }
        }
        let code = match tokio::time::timeout(wait, conn.closed()).await {
            Ok(ConnectionError::ApplicationClosed(close)) => {
                u32::try_from(close.error_code.into_inner()).ok().map(CloseCode)
            }
            _ => None,
        };
        reader.abort();
        conn.close(0u32.into(), b"done");
        code
    }
}

fn doc(name: &str) -> DocId {
    DocId::new(format!("notes/{name}")).expect("id")
}

/// Samples the server's RSS every 5 ms; kills it (SIGKILL) once it exceeds `limit_kib`.
fn watchdog(
    pid: u32,
    limit_kib: u64,
    stop: Arc<AtomicBool>,
    exceeded: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Some(m) = Memory::of(pid) else { return };
            peak.fetch_max(m.rss_kib, Ordering::Relaxed);
            if m.rss_kib > limit_kib {
                exceeded.store(true, Ordering::Relaxed);
                if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}

async fn has(node: &Node, d: &DocId) -> bool {
    node.list_docs("notes/")
        .await
        .map(|l| l.contains(d))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inflation_bombs_from_a_registered_device_are_bounded() {
    let dir = tempfile::tempdir().expect("dir");
    let server = ServerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_humansync-server")),
        &dir.path().join("server"),
        PASSWORD,
    );
    let url = server.url();
    let b = humansync::init(device_config(&dir.path().join("b"), &url))
        .await
        .expect("b");
    let c = humansync::init(device_config(&dir.path().join("c"), &url))
        .await
        .expect("c");
    b.pair(PASSWORD).await.expect("b pairs");
    c.pair(PASSWORD).await.expect("c pairs");
    let attackers = [Attacker::pair(0xa1, &url).await, Attacker::pair(0xa2, &url).await];

    // B's edits reach C through the server before the attack.
    let probe = b.open_doc("notes/probe").await.expect("probe");
    probe.put("n", 0i64).await.expect("put");
    support::eventually(60, "C sees B's probe", || async {
        match c.open_doc("notes/probe").await {
            Ok(d) if has(&c, &doc("probe")).await => d.get::<i64>("n").await.ok().flatten() == Some(0),
            _ => false,
        }
    })
    .await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = server.memory().expect("server running");
    eprintln!("server idle: VmRSS {:.1} MiB", mib(idle.rss_kib));
    let (stop, exceeded, peak) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(idle.rss_kib)),
    );
    watchdog(
        server.pid(),
        idle.rss_kib + RSS_BOUND_KIB,
        stop.clone(),
        exceeded.clone(),
        peak.clone(),
    );

    // During the attack: /health latency and B→C sync latency, measured.
    let attack_over = Arc::new(AtomicBool::new(false));
    let health = {
        let over = attack_over.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let http = support::client();
            let mut worst = Duration::ZERO;
            let mut failures = 0;
            while !over.load(Ordering::Relaxed) {
                let t = Instant::now();
                match http.get(format!("{url}/health")).send().await {
                    Ok(r) if r.status().is_success() => worst = worst.max(t.elapsed()),
                    _ => failures += 1,
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (worst, failures)
        })
    };

    let bomb_change = bombs::compressed_change(INFLATED, [0xa1; 16]);
    let bomb_column = bombs::deflated_column_document(INFLATED);
    eprintln!(
        "bombs: compressed change {} KiB, deflated column {} KiB, each inflating to {} MiB",
        bomb_change.len() / 1024,
        bomb_column.len() / 1024,
        INFLATED / MIB
    );
    let mut sessions = Vec::new();
    let mut sync_latencies = Vec::new();
    let mut bomb_docs = Vec::new();
    for round in 0..ROUNDS {
        let attacker = &attackers[round % 2];
        let whole_doc = doc(&format!("bomb-whole-{round}"));
        let column_doc = doc(&format!("bomb-column-{round}"));
        let sync_doc = doc(&format!("bomb-sync-{round}"));
        bomb_docs.extend([whole_doc.clone(), column_doc.clone(), sync_doc.clone()]);
        let sequence: Vec<(&str, Vec<Message>)> = vec![
            // A whole document with a DEFLATE'd column, then a sync that makes the server load it.
            (
                "DocWhole (deflated column) + DocSync",
                vec![
                    Message::DocWhole {
                        doc: column_doc.clone(),
                        heads: Vec::new(),
                        blobs: Vec::new(),
                        bytes: bomb_column.clone(),
                    },
                    Message::DocSync {
                        doc: column_doc.clone(),
                        message: bombs::sync_message(&[]),
                    },
                ],
            ),
            // A whole document of one compressed change, then the same.
            (
                "DocWhole (compressed change) + DocSync",
                vec![
                    Message::DocWhole {
                        doc: whole_doc.clone(),
                        heads: Vec::new(),
                        blobs: Vec::new(),
                        bytes: bomb_change.clone(),
                    },
                    Message::DocSync {
                        doc: whole_doc.clone(),
                        message: bombs::sync_message(&[]),
                    },
                ],
            ),
            // A sync message carrying a compressed change, for a new document.
            (
                "DocSync (compressed change)",
                vec![Message::DocSync {
                    doc: sync_doc.clone(),
                    message: bombs::sync_message(std::slice::from_ref(&bomb_change)),
                }],
            ),
            // A change set for a document the server holds (B's probe).
            (
                "DocChanges (compressed change)",
                vec![Message::DocChanges {
                    doc: doc("probe"),
                    bytes: bomb_change.clone(),
                }],
            ),
        ];
        for (what, msgs) in sequence {
            if exceeded.load(Ordering::Relaxed) {
                break;
            }
            let code = attacker.session(&msgs, Duration::from_secs(10)).await;
            eprintln!("round {round}: {what}: session closed with {code:?}");
            sessions.push((what, code));
            // B edits; time until C has the edit (through the server).
            let n = sync_latencies.len() as i64 + 1;
            let t = Instant::now();
            probe.put("n", n).await.expect("put");
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut seen = false;
            while Instant::now() < deadline && !exceeded.load(Ordering::Relaxed) {
                if let Ok(d) = c.open_doc("notes/probe").await
                    && d.get::<i64>("n").await.ok().flatten() == Some(n)
                {
                    seen = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            sync_latencies.push(seen.then(|| t.elapsed()));
        }
    }
    attack_over.store(true, Ordering::Relaxed);
    let (health_worst, health_failures) = health.await.expect("health task");
    stop.store(true, Ordering::Relaxed);
    let peak_kib = peak
        .load(Ordering::Relaxed)
        .max(server.memory().map_or(0, |m| m.peak_kib));
    eprintln!(
        "server peak VmRSS {:.1} MiB ({:.1} MiB above idle; bound {} MiB); exceeded: {}",
        mib(peak_kib),
        mib(peak_kib.saturating_sub(idle.rss_kib)),
        RSS_BOUND_KIB / 1024,
        exceeded.load(Ordering::Relaxed)
    );
    eprintln!("GET /health during the attack: worst {health_worst:?}, {health_failures} failed");
    eprintln!("B→C sync latency during the attack: {sync_latencies:?}");

    assert!(
        !exceeded.load(Ordering::Relaxed),
        "the server's RSS went over {} MiB above idle (killed)",
        RSS_BOUND_KIB / 1024
    );
    assert!(peak_kib.saturating_sub(idle.rss_kib) <= RSS_BOUND_KIB);
    for (what, code) in &sessions {
        assert_eq!(
            *code,
            Some(CloseCode::PROTOCOL),
            "{what}: the hostile session was not closed"
        );
    }
    assert!(
        sync_latencies.iter().all(Option::is_some),
        "B's edits stopped reaching C: {sync_latencies:?}"
    );
    assert_eq!(health_failures, 0, "GET /health failed during the attack");
    // The bytes reached no third node.
    for d in &bomb_docs {
        assert!(!has(&c, d).await, "{d} reached C");
        assert!(!has(&b, d).await, "{d} reached B");
    }
    b.shutdown().await.expect("b");
    c.shutdown().await.expect("c");
    server.stop();
}
