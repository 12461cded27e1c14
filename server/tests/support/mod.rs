//! Shared helpers: a real server (SQLite, iroh on 127.0.0.1 with relays off, HTTP on loopback)
//! in a temporary directory, library nodes that pair with it, signed requests.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use humansync::{HumanSyncConfig, Node, RelayConfig};
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

/// Polls `check` every 50 ms until it returns true or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {secs} s waiting for: {what}");
}

pub fn now_ms() -> u64 {
    Clock::system().now_ms()
}
