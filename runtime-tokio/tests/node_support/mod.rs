//! Shared helpers for node tests: real iroh endpoints on 127.0.0.1, relays and mDNS off, and a
//! test registry anchor that signs records the way the server does.

#![allow(dead_code, unreachable_pub, unused_imports)]

use humansync::{HumanSyncConfig, Node, RelayConfig};
pub use humansync_benchkit::{Anchor, eventually};

pub fn config(dir: &std::path::Path) -> HumanSyncConfig {
    let mut config = HumanSyncConfig::new(dir);
    config.bind_addr = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config.mdns = false;
    config.interval_secs = 2;
    config
}

pub async fn start(dir: &std::path::Path) -> Node {
    logs();
    humansync::init(config(dir)).await.expect("node starts")
}

/// With `RUST_LOG` set (e.g. `RUST_LOG=humansync=debug`), the nodes' logs go to the test's
/// output (shown for a failing test, or with `--nocapture`).
pub fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Introduces every node to every other by address.
pub async fn introduce(nodes: &[&Node]) {
    for a in nodes {
        for b in nodes {
            if a.id() != b.id() {
                a.add_peer_addrs(b.id(), b.addrs()).await.expect("addrs");
            }
        }
    }
}

/// Two started nodes registered by one anchor, paired and introduced to each other.
pub async fn paired_pair(seed: u8) -> (tempfile::TempDir, tempfile::TempDir, Anchor, Node, Node) {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (anchor, a, b) = paired_at(da.path(), db.path(), seed).await;
    (da, db, anchor, a, b)
}

/// Two nodes started on `da` and `db`, registered by one anchor, paired and introduced.
pub async fn paired_at(da: &std::path::Path, db: &std::path::Path, seed: u8) -> (Anchor, Node, Node) {
    let mut anchor = Anchor::new(seed);
    let a = start(da).await;
    let b = start(db).await;
    anchor.register(a.id());
    anchor.register(b.id());
    a.apply_pairing(anchor.pairing()).await.expect("pair a");
    b.apply_pairing(anchor.pairing()).await.expect("pair b");
    introduce(&[&a, &b]).await;
    (anchor, a, b)
}

/// Opens the store of a stopped node stored under `dir` with its device data key, wherever the
/// device keeps it (HS-REST-2).
pub fn open_store(dir: &std::path::Path) -> humansync::store::DocStore {
    let keys = humansync::keys::resolve(&humansync::KeySource::Device, dir)
        .expect("device key")
        .expect("encryption on");
    humansync::store::DocStore::open_keyed(&dir.join("store"), Default::default(), Some(&keys[0]))
        .expect("store opens")
}

#[path = "../../src/store/tmpfs.rs"]
pub mod tmpfs;
