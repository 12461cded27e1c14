//! The sync status shown to people (one status line) and to scripts (`status`, `peers`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::UNIX_EPOCH;

use humansync::protocol::http::PairResponse;
use humansync::{DeviceId, SyncStatus};
use serde::Serialize;

/// Largest pairing file read, in bytes.
const MAX_PAIRING_BYTES: u64 = 16 << 20;

/// One connected peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerReport {
    /// Its device id.
    pub id: String,
    /// `server` for the registry anchor, `device` otherwise.
    pub role: &'static str,
    /// Fully in sync with us.
    pub up_to_date: bool,
    /// Documents still being exchanged with it.
    pub outstanding: usize,
    /// mDNS currently announces it on the local network.
    pub lan: bool,
}

/// What `status` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// This device's id.
    pub id: String,
    /// Local iroh addresses.
    pub addrs: Vec<String>,
    /// Paired with a server.
    pub paired: bool,
    /// The server's id, once paired.
    pub server_id: Option<String>,
    /// The server URL the app knows.
    pub server_url: Option<String>,
    /// A session with the server is open.
    pub server_connected: bool,
    /// Connected peers (server included).
    pub peers: Vec<PeerReport>,
    /// Registered peers that mDNS announces on the local network (found without the server),
    /// connected or not.
    pub lan_peers: Vec<String>,
    /// Documents held.
    pub docs: usize,
    /// Documents with an exchange in progress.
    pub pending_docs: usize,
    /// Attachments referenced but not held yet.
    pub missing_blobs: usize,
    /// When a peer last became fully in sync with us, unix ms.
    pub last_sync_ms: Option<u64>,
    /// Every device of the registry with its state (this one first, then the server).
    pub devices: Vec<crate::device_report::DeviceReport>,
}

/// The server this device is paired with, from the library's `pairing.json` (README: storage layout).
pub fn paired_server(data: &Path) -> Option<DeviceId> {
    let path = data.join("pairing.json");
    if std::fs::metadata(&path).ok()?.len() > MAX_PAIRING_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<PairResponse>(&bytes)
        .ok()
        .map(|r| r.server_node_id)
}

impl StatusReport {
    /// Builds the report from the library's status.
    pub fn new(
        id: DeviceId,
        addrs: &[SocketAddr],
        server: Option<DeviceId>,
        server_url: Option<String>,
        status: &SyncStatus,
    ) -> Self {
        let peers: Vec<PeerReport> = status
            .peers
            .iter()
            .map(|p| PeerReport {
                id: p.peer.to_string(),
                role: if Some(p.peer) == server {
                    "server"
                } else {
                    "device"
                },
                up_to_date: p.up_to_date,
                outstanding: p.outstanding,
                lan: status.lan_peers.contains(&p.peer),
            })
            .collect();
        StatusReport {
            id: id.to_string(),
            addrs: addrs.iter().map(|a| a.to_string()).collect(),
            paired: server.is_some(),
            server_id: server.map(|s| s.to_string()),
            server_url,
            server_connected: peers.iter().any(|p| p.role == "server"),
            peers,
            lan_peers: status.lan_peers.iter().map(|p| p.to_string()).collect(),
            docs: status.docs,
            pending_docs: status.docs_pending,
            missing_blobs: status.blobs_missing,
            last_sync_ms: status.last_sync.and_then(|t| {
                t.duration_since(UNIX_EPOCH)
                    .ok()
                    .and_then(|d| u64::try_from(d.as_millis()).ok())
            }),
            devices: Vec::new(),
        }
    }

    /// The report with the devices list from the library's `Node::devices`.
    pub fn with_devices(mut self, devices: &[humansync::DeviceInfo]) -> Self {
        self.devices = devices.iter().map(Into::into).collect();
        self
    }

    /// The one-line indicator: `peers 2 (server) · pending 0 · last sync 4s ago`.
    pub fn line(&self, now_ms: u64) -> String {
        let pairing = if self.paired { "" } else { " · not paired" };
        let server = match (self.paired, self.server_connected) {
            (true, true) => " (server)",
            (true, false) => " (server offline)",
            _ => "",
        };
        let last = match self.last_sync_ms {
            None => "never".to_owned(),
            Some(t) => format!("{} ago", ago(now_ms.saturating_sub(t))),
        };
        format!(
            "peers {}{server} · pending {} · last sync {last}{pairing}",
            self.peers.len(),
            self.pending_docs + self.missing_blobs,
        )
    }
}

fn ago(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync::PeerStatus;
    use std::time::Duration;

    fn dev(b: u8) -> DeviceId {
        let key = ed25519_dalek::SigningKey::from_bytes(&[b; 32]);
        DeviceId::from(&key)
    }

    #[test]
    fn line_names_server_peers_pending_and_age() {
        let status = SyncStatus {
            peers: vec![
                PeerStatus {
                    peer: dev(1),
                    up_to_date: true,
                    outstanding: 0,
                },
                PeerStatus {
                    peer: dev(2),
                    up_to_date: false,
                    outstanding: 3,
                },
            ],
            lan_peers: vec![dev(2)],
            docs: 4,
            docs_pending: 1,
            blobs_missing: 2,
            last_sync: Some(UNIX_EPOCH + Duration::from_secs(100)),
        };
        let r = StatusReport::new(dev(9), &[], Some(dev(1)), None, &status);
        assert!(r.server_connected);
        assert_eq!(r.peers[1].role, "device");
        assert_eq!((r.peers[0].lan, r.peers[1].lan), (false, true));
        assert_eq!(r.lan_peers, vec![dev(2).to_string()]);
        assert_eq!(r.line(165_000), "peers 2 (server) · pending 3 · last sync 1m ago");
        let alone = StatusReport::new(
            dev(9),
            &[],
            None,
            None,
            &SyncStatus {
                peers: vec![],
                ..status
            },
        );
        assert!(!alone.server_connected);
        assert_eq!(
            alone.line(100_000),
            "peers 0 · pending 3 · last sync 0s ago · not paired"
        );
        assert_eq!(ago(7_200_000), "2h");
    }
}
