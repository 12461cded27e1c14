//! A stand-in for the server's registry key: signs Device and Revoked records the way the
//! server does, so that nodes pair without a server (benchmarks and tests).

use std::path::Path;

use ed25519_dalek::SigningKey;
use humansync::protocol::http::PairResponse;
use humansync::protocol::{DeviceId, RegistryRecord};

/// The stand-in for the server's key: signs registry records as POST /pair does.
pub struct Anchor {
    /// The anchor's signing key.
    pub key: SigningKey,
    records: Vec<String>,
}

impl Default for Anchor {
    /// The benchmarks' anchor (seed 0x5E).
    fn default() -> Self {
        Anchor::new(0x5E)
    }
}

impl Anchor {
    /// An anchor whose key is `seed` repeated: tests pick different seeds for different worlds.
    pub fn new(seed: u8) -> Self {
        Anchor {
            key: SigningKey::from_bytes(&[seed; 32]),
            records: Vec::new(),
        }
    }

    /// The anchor's id: the server peer's device id.
    pub fn id(&self) -> DeviceId {
        DeviceId::from(&self.key)
    }

    /// Registers a device (a signed Device record).
    pub fn register(&mut self, device: DeviceId) {
        let record = RegistryRecord::Device {
            device,
            name: "test".into(),
            paired_at_ms: 1,
        };
        self.records
            .push(hex::encode(record.sign(&self.key).expect("sign").encode()));
    }

    /// Revokes a device (a signed Revoked record), as DELETE /devices/{id} does.
    pub fn revoke(&mut self, device: DeviceId) {
        let record = RegistryRecord::Revoked {
            device,
            revoked_at_ms: 2,
        };
        self.records
            .push(hex::encode(record.sign(&self.key).expect("sign").encode()));
    }

    /// What POST /pair answers; no server addresses (the bench tells nodes where peers are).
    pub fn pairing(&self) -> PairResponse {
        PairResponse {
            server_node_id: self.id(),
            server_addrs: Vec::new(),
            relay_url: None,
            devices: Vec::new(),
            records: self.records.clone(),
        }
    }

    /// Writes the anchor's secret as the identity of the node stored under `storage`, so that
    /// node is the server peer.
    pub fn install_as_identity(&self, storage: &Path) {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(storage).expect("create storage");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(storage.join(humansync::identity::IDENTITY_FILE))
            .expect("create identity file");
        f.write_all(&self.key.to_bytes()).expect("write identity");
        f.sync_all().expect("sync identity");
    }
}
