//! What the core did since it started, counted from its own inputs and outputs: the runtime's
//! Prometheus counters (`NodeStats::totals`), which it reads here instead of keeping a copy.

use crate::{Event, Origin, Output};

/// Counters that only grow while a core runs: what it did since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Totals {
    /// Sessions whose handshake completed.
    pub sessions_opened: u64,
    /// Sync-protocol bytes received, frame headers included (every session, closed ones too).
    pub bytes_in: u64,
    /// Sync-protocol bytes sent, frame headers included.
    pub bytes_out: u64,
    /// Sync exchanges completed: reconciliations (or resumes) that ended with a peer.
    pub sync_exchanges: u64,
    /// Documents changed or deleted by a peer's change.
    pub remote_changes: u64,
    /// Stored documents found corrupt and quarantined (recovered from peers afterwards).
    pub quarantines: u64,
    /// Blobs that arrived from peers.
    pub blobs_arrived: u64,
    /// Devices the registry revoked while this node ran.
    pub devices_revoked: u64,
    /// Dials started (sync sessions this node tried to open), as the core asked for them.
    pub dials_started: u64,
}

impl Totals {
    /// Counts an output as it leaves the core (`Core::poll_output`): what the driver performs
    /// is exactly what is counted (a `Transmit` dropped before it left is not).
    pub(crate) fn count(&mut self, output: &Output) {
        match output {
            Output::Transmit { bytes, .. } => self.bytes_out += bytes.len() as u64,
            Output::Dial { .. } => self.dials_started += 1,
            Output::Event(event) => match event {
                Event::PeerConnected(_) => self.sessions_opened += 1,
                Event::Reconciled(_) => self.sync_exchanges += 1,
                Event::DocChanged {
                    origin: Origin::Remote(_),
                    ..
                }
                | Event::DocDeleted {
                    origin: Origin::Remote(_),
                    ..
                } => self.remote_changes += 1,
                Event::DocCorrupt { .. } => self.quarantines += 1,
                Event::BlobArrived(_) => self.blobs_arrived += 1,
                Event::DeviceRevoked(_) => self.devices_revoked += 1,
                _ => {}
            },
            _ => {}
        }
    }
}
