//! Test helpers: real humansync nodes on 127.0.0.1 (relays and mDNS off) and a stand-in registry
//! anchor that signs Device records the way the server does, so nodes pair without a server.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use humandocs::App;
use humandocs::cli::NodeArgs;
use humansync::protocol::http::PairResponse;
use humansync::protocol::{DeviceId, RegistryRecord};

/// Signs registry records like the server's key.
pub struct Anchor {
    key: SigningKey,
    records: Vec<String>,
}

impl Anchor {
    pub fn new(seed: u8) -> Self {
        Anchor {
            key: SigningKey::from_bytes(&[seed; 32]),
            records: Vec::new(),
        }
    }

    /// Registers a device (what POST /pair does).
    pub fn register(&mut self, device: DeviceId) {
        let record = RegistryRecord::Device {
            device,
            name: "test".into(),
            paired_at_ms: 1,
        };
        let signed = record.sign(&self.key).expect("sign");
        self.records.push(hex::encode(signed.encode()));
    }

    /// The pairing answer (no server addresses: the anchor is never online here).
    pub fn pairing(&self) -> PairResponse {
        PairResponse {
            server_node_id: DeviceId::from(&self.key),
            server_addrs: Vec::new(),
            relay_url: None,
            devices: Vec::new(),
            records: self.records.clone(),
        }
    }
}

/// Starts an app on `dir`: loopback, relays and mDNS off, 1 s re-dial interval.
pub async fn start(dir: &Path) -> App {
    let args = NodeArgs {
        bind: Some(std::net::Ipv4Addr::LOCALHOST.into()),
        no_mdns: true,
        relay: "disabled".into(),
        interval: 1,
        ..NodeArgs::default()
    };
    let node = humansync::init(humandocs::run::node_config(dir, &args, None))
        .await
        .expect("node starts");
    App::new(node, dir)
}

/// Tells each app where the other listens.
pub async fn introduce(a: &App, b: &App) {
    a.node()
        .add_peer_addrs(b.node().id(), b.node().addrs())
        .await
        .expect("addrs");
    b.node()
        .add_peer_addrs(a.node().id(), a.node().addrs())
        .await
        .expect("addrs");
}

/// Polls `check` every 50 ms until it holds, at most `secs` seconds.
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
