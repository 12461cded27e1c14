//! Events the core reports to the app.

use humansync_protocol::{BlobHash, CloseCode, DeviceId, DocId};

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Made on this device.
    Local,
    /// Received from this peer.
    Remote(DeviceId),
}

/// Something the app may want to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session with the peer completed its handshake.
    PeerConnected(DeviceId),
    /// The session with the peer ended.
    PeerDisconnected {
        /// The peer.
        peer: DeviceId,
        /// Why.
        code: CloseCode,
    },
    /// A document changed.
    DocChanged {
        /// The document.
        doc: DocId,
        /// Who changed it.
        origin: Origin,
    },
    /// A document was deleted.
    DocDeleted {
        /// The document.
        doc: DocId,
        /// Who deleted it.
        origin: Origin,
    },
    /// A stored document failed to load; the runtime should quarantine it. The core will recover it from a peer.
    DocCorrupt {
        /// The document.
        doc: DocId,
        /// Why it failed.
        reason: String,
    },
    /// A stored document loaded without some of the changes appended to it unparsed (issue 22
    /// §1): Automerge refused them once parsed. The document holds everything else and is
    /// rewritten whole without them; a peer's sync brings any that were valid again.
    ChangesDropped {
        /// The document.
        doc: DocId,
        /// How many change chunks were dropped.
        changes: usize,
    },
    /// A peer's bytes for a document were refused (HS-SYNC-12) or failed to apply (HS-SYNC-10):
    /// nothing was stored or forwarded and the session was closed.
    DocRejected {
        /// The document.
        doc: DocId,
        /// The peer that sent the bytes.
        peer: Option<DeviceId>,
        /// Why.
        reason: String,
    },
    /// A document could not be sent to a peer because one of its changes alone exceeds what one
    /// message may carry (HS-MSG-2, HS-SYNC-9; a document that is only too large to go whole is
    /// synced in bounded DocSync messages instead).
    DocTooLarge {
        /// The document.
        doc: DocId,
        /// The encoded size in bytes of what did not fit.
        bytes: usize,
    },
    /// A referenced blob is now held locally.
    BlobArrived(BlobHash),
    /// The registry admitted a new device.
    DeviceAdded(DeviceId),
    /// The registry revoked a device; every session with it has been closed (HS-GATE-4).
    DeviceRevoked(DeviceId),
    /// Reconciliation with the peer finished (HS-RECON-5).
    Reconciled(DeviceId),
}
