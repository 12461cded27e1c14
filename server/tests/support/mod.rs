//! Shared helpers: a real server (SQLite, iroh on 127.0.0.1 with relays off, HTTP on loopback)
//! in a temporary directory, library nodes that pair with it, signed requests.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use humansync::{HumanSyncConfig, Node, RelayConfig};
pub use humansync_benchkit::eventually;
use humansync_protocol::DeviceId;
use humansync_protocol::http::SignedAuth;
use humansync_server::clock::Clock;
use humansync_server::{Overrides, RunningServer, ServerConfig};

pub const PASSWORD: &str = "correct horse battery staple";
/// A fixed wall-clock start for tests that move time (2023-11-14).
pub const T0: u64 = 1_700_000_000_000;

/// A settable clock.
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl TestClock {
    pub fn new() -> Self {
        TestClock(Arc::new(AtomicU64::new(T0)))
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn clock(&self) -> Clock {
        Clock::manual(self.0.clone())
    }
}

pub fn server_config(dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(dir);
    config.password = Some(PASSWORD.into());
    config.http_addr = "127.0.0.1:0".parse().expect("addr");
    config.iroh_port = 0;
    config.iroh_bind = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config
}

pub async fn start_server(dir: &Path, overrides: Overrides) -> RunningServer {
    humansync_server::start(server_config(dir), overrides)
        .await
        .expect("server starts")
}

pub fn url(server: &RunningServer, path: &str) -> String {
    format!("http://{}{path}", server.http_addr())
}

/// A library node configured to pair with `server` over loopback http (HS-PAIR-5 allows it).
pub fn device_config(dir: &Path, server: &RunningServer) -> HumanSyncConfig {
    let mut config = HumanSyncConfig::new(dir);
    config.bind_addr = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config.mdns = false;
    config.interval_secs = 1;
    config.server_url = Some(format!("http://{}", server.http_addr()));
    config
}

pub async fn start_device(dir: &Path, server: &RunningServer) -> Node {
    humansync::init(device_config(dir, server))
        .await
        .expect("device starts")
}

/// Whether `node` holds document `doc` (under `notes/`).
pub async fn has_doc(node: &Node, doc: &str) -> bool {
    node.list_docs("notes/")
        .await
        .expect("list")
        .iter()
        .any(|d| d.as_str() == doc)
}

/// The `title` of `doc` on `node`, if `node` holds it (never creates it).
pub async fn title(node: &Node, doc: &str) -> Option<String> {
    if !has_doc(node, doc).await {
        return None;
    }
    node.open_doc(doc)
        .await
        .expect("open")
        .get::<String>("title")
        .await
        .expect("get")
}

/// Whether `node` has a session (open or opening) with `peer`.
pub async fn connected(node: &Node, peer: DeviceId) -> bool {
    node.sync_status()
        .await
        .expect("status")
        .peers
        .iter()
        .any(|p| p.peer == peer)
}

/// The relay `node` is connected to and reachable through (its home relay), if any.
pub async fn home_relay(node: &Node) -> Option<String> {
    node.stats().await.expect("stats").home_relay
}

/// A GET /devices request signed by `key` at `ts`.
pub fn signed(key: &SigningKey, ts: u64, nonce: [u8; 16]) -> String {
    SignedAuth::sign(key, "GET", "/devices", ts, nonce).to_header()
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn id(key: &SigningKey) -> DeviceId {
    DeviceId::from(key)
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a bundled rustls provider (see the workspace manifest).
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub fn now_ms() -> u64 {
    Clock::system().now_ms()
}
