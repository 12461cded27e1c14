//! The devices list: every device of the registry with what this node knows of it right now
//! ([`crate::Node::devices`]) — what a "devices" panel shows.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use humansync_protocol::DeviceId;
use humansync_sansio::registry::Registry;

/// What a device is to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRole {
    /// This node itself.
    ThisDevice,
    /// The server: the registry anchor that signs the `_devices` registry.
    Server,
    /// Another device of the same person.
    Device,
}

/// One device of the registry, as [`crate::Node::devices`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Its id.
    pub id: DeviceId,
    /// Its name from its Device record (sanitised, HS-PAIR-4); `server` for the anchor, empty
    /// for a device known only from a Revoked record.
    pub name: String,
    /// What it is to this node.
    pub role: DeviceRole,
    /// When it paired (from its Device record); `None` for the anchor or if not known.
    pub paired_at: Option<SystemTime>,
    /// When it was revoked (HS-REG-*); `None` while admitted.
    pub revoked_at: Option<SystemTime>,
    /// A session with it is open now.
    pub online: bool,
    /// Online and fully in sync with this node (reconciled, nothing outstanding).
    pub up_to_date: bool,
    /// mDNS announces it on the local network now.
    pub lan: bool,
    /// When a session with it was last open (now, if online); `None` if never seen by this node
    /// (and always for this node itself). Kept across restarts.
    pub last_seen: Option<SystemTime>,
}

/// What the driver knows about the peers right now, for [`devices`].
#[derive(Debug, Default)]
pub(crate) struct PeerView {
    /// Peers with an open session, and whether each is up to date.
    pub(crate) online: BTreeMap<DeviceId, bool>,
    /// Peers mDNS announces.
    pub(crate) lan: BTreeSet<DeviceId>,
    /// When a session with each peer was last open, unix ms.
    pub(crate) last_seen: BTreeMap<DeviceId, u64>,
}

/// The devices list of node `me` with registry `registry`: this node first, then the server,
/// then the other devices by name (revoked ones last).
pub(crate) fn devices(
    me: DeviceId,
    registry: &Registry,
    peers: &PeerView,
    now: SystemTime,
) -> Vec<DeviceInfo> {
    let anchor = registry.anchor();
    let statuses: BTreeMap<&DeviceId, _> = registry.devices().collect();
    let mut ids: BTreeSet<DeviceId> = statuses.keys().map(|id| **id).collect();
    ids.insert(me);
    ids.extend(anchor);
    let mut out: Vec<DeviceInfo> = ids
        .into_iter()
        .map(|id| {
            let status = statuses.get(&id).copied();
            let role = if id == me {
                DeviceRole::ThisDevice
            } else if Some(id) == anchor {
                DeviceRole::Server
            } else {
                DeviceRole::Device
            };
            let name = match status {
                Some(s) if !s.name.is_empty() => s.name.clone(),
                _ if role == DeviceRole::Server => "server".to_owned(),
                _ => String::new(),
            };
            let online = peers.online.get(&id);
            DeviceInfo {
                id,
                name,
                role,
                paired_at: status.and_then(|s| (s.paired_at_ms > 0).then(|| wall(s.paired_at_ms))),
                revoked_at: status.and_then(|s| s.revoked_at_ms.map(wall)),
                online: online.is_some(),
                up_to_date: online.copied().unwrap_or(false),
                lan: peers.lan.contains(&id),
                last_seen: match (role, online) {
                    (DeviceRole::ThisDevice, _) => None,
                    (_, Some(_)) => Some(now),
                    _ => peers.last_seen.get(&id).map(|ms| wall(*ms)),
                },
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let rank = |d: &DeviceInfo| {
            (
                d.role != DeviceRole::ThisDevice,
                d.role != DeviceRole::Server,
                d.revoked_at.is_some(),
            )
        };
        (rank(a), a.name.to_lowercase(), a.id).cmp(&(rank(b), b.name.to_lowercase(), b.id))
    });
    out
}

fn wall(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
