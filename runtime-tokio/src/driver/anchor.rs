//! The driver's side of the registry-anchor role (see `crate::anchor`): records the anchor
//! signed, its registry view, and where peers were last seen.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use humansync_protocol::{DeviceId, SignedRecord};
use humansync_sansio::registry::Registry;

use super::{Driver, Reply};
use crate::Error;

/// A request of the anchor role to the driver.
pub(crate) enum AnchorCommand {
    /// Insert a record this node signed into the registry and `_devices`, push it to every
    /// session and close the sessions of devices it revokes (HS-REG-6, HS-GATE-4).
    AddRecord {
        record: Box<SignedRecord>,
        reply: Reply<()>,
    },
    /// A copy of the registry view (HS-REG-4).
    Registry { reply: Reply<Registry> },
    /// The direct addresses each peer was last seen at.
    PeerAddrs {
        reply: Reply<BTreeMap<DeviceId, Vec<SocketAddr>>>,
    },
}

impl Driver {
    /// Runs one anchor request.
    pub(super) fn anchor_command(&mut self, cmd: AnchorCommand) {
        match cmd {
            AnchorCommand::AddRecord { record, reply } => {
                if self.core.registry().anchor() != Some(self.core.me()) {
                    let _ = reply.send(Err(Error::NotAnchor));
                    return;
                }
                let now = self.now();
                let result = self
                    .core
                    .add_registry_record(now, &record)
                    .map_err(|e| Error::Registry(e.to_string()));
                // Push the change and close revoked devices' connections before answering, so
                // that the caller's answer follows the enforcement (HS-GATE-4, HS-HTTP-4).
                self.pump();
                let _ = reply.send(result);
            }
            AnchorCommand::Registry { reply } => {
                let _ = reply.send(Ok(self.core.registry().clone()));
            }
            AnchorCommand::PeerAddrs { reply } => {
                let _ = reply.send(Ok(self.transport.peer_addrs()));
            }
        }
    }
}
