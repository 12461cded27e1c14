//! The driver's part of [`crate::Node::devices`]: the last-seen times it keeps up to date from
//! the core's session events, and the devices list it builds from the core's registry.

use humansync_sansio::Event;

use super::Driver;
use crate::devices::{DeviceInfo, PeerView, devices};

impl Driver {
    /// Notes when sessions open and close; a close also rewrites the last-seen file.
    pub(super) fn note_seen(&mut self, event: &Event) {
        match event {
            Event::PeerConnected(peer) => self.last_seen.note(*peer, crate::store::wall_ms()),
            Event::PeerDisconnected { peer, .. } => {
                self.last_seen.note(*peer, crate::store::wall_ms());
                self.store.save_last_seen(self.last_seen.snapshot());
            }
            _ => {}
        }
    }

    /// Every device of the registry with its state now.
    pub(super) fn devices(&self) -> Vec<DeviceInfo> {
        let status = self.core.status();
        let peers = PeerView {
            online: status
                .peers
                .iter()
                .filter(|p| p.open)
                .map(|p| (p.peer, p.up_to_date))
                .collect(),
            lan: self.transport.lan_peers().into_keys().collect(),
            last_seen: self.last_seen.times().clone(),
        };
        devices(
            self.core.gate().me(),
            self.core.registry(),
            &peers,
            std::time::SystemTime::now(),
        )
    }
}
