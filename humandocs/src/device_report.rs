//! The devices list as the app reports it (`status` on the socket, `/api/status` in the UI):
//! every device of the registry with its state, from the library's `Node::devices`.

use std::time::{SystemTime, UNIX_EPOCH};

use humansync::{DeviceInfo, DeviceRole};
use serde::Serialize;

/// One device of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceReport {
    /// Its device id (64 hex digits).
    pub id: String,
    /// Its name (`server` for the server; empty when only its revocation is known).
    pub name: String,
    /// `this`, `server` or `device`.
    pub role: &'static str,
    /// When it paired, unix ms.
    pub paired_at_ms: Option<u64>,
    /// When it was revoked, unix ms; `None` while it is one of the person's devices.
    pub revoked_at_ms: Option<u64>,
    /// A session with it is open.
    pub online: bool,
    /// Online and fully in sync with this device.
    pub up_to_date: bool,
    /// Announced on the local network (mDNS).
    pub lan: bool,
    /// When a session with it was last open, unix ms (kept across restarts).
    pub last_seen_ms: Option<u64>,
}

impl From<&DeviceInfo> for DeviceReport {
    fn from(d: &DeviceInfo) -> Self {
        DeviceReport {
            id: d.id.to_string(),
            name: d.name.clone(),
            role: match d.role {
                DeviceRole::ThisDevice => "this",
                DeviceRole::Server => "server",
                DeviceRole::Device => "device",
            },
            paired_at_ms: d.paired_at.map(unix_ms),
            revoked_at_ms: d.revoked_at.map(unix_ms),
            online: d.online,
            up_to_date: d.up_to_date,
            lan: d.lan,
            last_seen_ms: d.last_seen.map(unix_ms),
        }
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
