//! Shared helpers for node tests: real iroh endpoints on 127.0.0.1, relays and mDNS off, and a
//! test registry anchor that signs records the way the server does.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use ed25519_dalek::SigningKey;
use humansync::protocol::http::PairResponse;
use humansync::protocol::{DeviceId, RegistryRecord};
use humansync::{HumanSyncConfig, Node, RelayConfig};

/// The stand-in for the server's key: it signs registry records.
pub struct Anchor {
    pub key: SigningKey,
    records: Vec<String>,
}

impl Anchor {
    pub fn new(seed: u8) -> Self {
        Anchor {
            key: SigningKey::from_bytes(&[seed; 32]),
            records: Vec::new(),
        }
    }

    pub fn id(&self) -> DeviceId {
        DeviceId::from(&self.key)
    }

    /// Registers a device (a signed Device record), as POST /pair does.
    pub fn register(&mut self, device: DeviceId) {
        let record = RegistryRecord::Device {
            device,
            name: "test".into(),
            paired_at_ms: 1,
        };
        self.records
            .push(hex::encode(record.sign(&self.key).expect("sign").encode()));
    }

    /// Revokes a device, as DELETE /devices/{id} does.
    pub fn revoke(&mut self, device: DeviceId) {
        let record = RegistryRecord::Revoked {
            device,
            revoked_at_ms: 2,
        };
        self.records
            .push(hex::encode(record.sign(&self.key).expect("sign").encode()));
    }

    /// What POST /pair would answer now (no server addresses: the anchor is offline in these tests).
    pub fn pairing(&self) -> PairResponse {
        PairResponse {
            server_node_id: self.id(),
            server_addrs: Vec::new(),
            relay_url: None,
            devices: Vec::new(),
            records: self.records.clone(),
        }
    }
}

pub fn config(dir: &std::path::Path) -> HumanSyncConfig {
    let mut config = HumanSyncConfig::new(dir);
    config.bind_addr = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config.mdns = false;
    config.interval_secs = 2;
    config
}

pub async fn start(dir: &std::path::Path) -> Node {
    humansync::init(config(dir)).await.expect("node starts")
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

/// Two started nodes registered by one anchor, paired and introduced to each other.
pub async fn paired_pair(seed: u8) -> (tempfile::TempDir, tempfile::TempDir, Anchor, Node, Node) {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut anchor = Anchor::new(seed);
    let a = start(da.path()).await;
    let b = start(db.path()).await;
    anchor.register(a.id());
    anchor.register(b.id());
    a.apply_pairing(anchor.pairing()).await.expect("pair a");
    b.apply_pairing(anchor.pairing()).await.expect("pair b");
    introduce(&[&a, &b]).await;
    (da, db, anchor, a, b)
}
