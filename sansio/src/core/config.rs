//! What a [`Core`](super::Core)(super::Core) is built from — its configuration and the runtime's stored state
//! — and the local faults of app operations ([`CoreError`], never peer faults: those are
//! [`crate::PeerFault`]).

use humansync_protocol::{BlobHash, DeviceId, DocId};

use super::DialConfig;
use crate::DocMeta;

/// Static configuration of a [`Core`](super::Core).
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This node's device id.
    pub me: DeviceId,
    /// Automerge actor id for local changes. MUST be unique per process lifetime (for example the
    /// device id's first 16 bytes followed by a random or incrementing start counter), so that a
    /// crash can never make two different changes with the same (actor, seq).
    pub actor: Vec<u8>,
    /// The registry anchor (the server's id), once paired (HS-ID-3).
    pub anchor: Option<DeviceId>,
    /// Most parsed documents kept in memory; clean idle ones beyond it are evicted.
    pub cache_capacity: usize,
    /// Most LoadDoc tasks in flight at once, to bound memory during bulk transfers.
    pub max_inflight_loads: usize,
    /// Protocol versions offered and accepted, ascending (HS-VER-1); default: all supported.
    pub versions: Vec<u16>,
    /// Timing of the connection policy (who is dialled when, HS-TRANSPORT-4).
    pub dial: DialConfig,
    /// The largest document payload sent in one message (a DocWhole's or DocChanges' bytes, a
    /// DocSync's sync message). Default and upper bound `MAX_DOC_BYTES`, the wire bound; a lower
    /// value only makes the fallback of HS-SYNC-9 (bounded DocSync instead of a whole document)
    /// start earlier, which lets tests exercise it without 16 MiB documents.
    pub max_doc_bytes: usize,
    /// Grace period of blob retention (HS-BLOB-4): a held blob no live document references and
    /// the app has not pinned is released this many milliseconds after it became unreferenced.
    pub blob_grace_ms: u64,
    /// The sender window of a version-3 session (HS-SYNC-15): payload bytes of DocWhole and
    /// DocChanges not yet covered by the peer's `Held` before further ones wait. Default
    /// `SEND_WINDOW`. A receiver sends `Held` during a resume once this many bytes (at most
    /// `SEND_WINDOW`) are unacknowledged, so a lower value MUST be used by every node a session
    /// joins (tests use it to bind the window with small documents).
    pub send_window: usize,
}

impl CoreConfig {
    /// A configuration with default cache sizes.
    pub fn new(me: DeviceId, actor: Vec<u8>, anchor: Option<DeviceId>) -> Self {
        CoreConfig {
            me,
            actor,
            anchor,
            cache_capacity: 256,
            max_inflight_loads: 64,
            versions: humansync_protocol::SUPPORTED_VERSIONS.to_vec(),
            dial: DialConfig::default(),
            max_doc_bytes: humansync_protocol::limits::MAX_DOC_BYTES,
            blob_grace_ms: humansync_protocol::limits::BLOB_GRACE_DEFAULT_MS,
            send_window: humansync_protocol::limits::SEND_WINDOW,
        }
    }
}

/// What the runtime hands the core at start-up: its index and local state.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// Every stored document's index row (excluding `_devices`).
    pub index: Vec<(DocId, DocMeta)>,
    /// Saved bytes of the `_devices` document, if stored.
    pub devices_doc: Option<Vec<u8>>,
    /// Blobs held complete locally.
    pub local_blobs: Vec<BlobHash>,
    /// This run's change-log epoch (HS-RESUME-1): random and different at every start. 0 turns
    /// resuming off (every Resume is answered incomplete and no Synced is sent).
    pub log_epoch: u64,
    /// The persisted cursors into peers' logs (the last [`IoAction::SaveCursors`](crate::IoAction::SaveCursors) that completed).
    /// Leave empty if any stored document was lost since they were saved.
    pub cursors: Vec<(DeviceId, humansync_protocol::Cursor)>,
    /// Blobs the app pinned (HS-BLOB-4): never released while pinned.
    pub pinned_blobs: Vec<BlobHash>,
    /// The persisted ages of unreferenced blobs (the last [`IoAction::SaveBlobAges`](crate::IoAction::SaveBlobAges) that
    /// completed), each increased by the time the node was down (HS-BLOB-4).
    pub blob_ages: Vec<(BlobHash, u64)>,
}

/// Errors of app operations on the core (local faults, never peer faults).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The document is not loaded: make an app request ([`Core::handle_app_request`](super::Core::handle_app_request)),
    /// which waits for the load.
    #[error("document {0} is not loaded")]
    NotLoaded(DocId),
    /// The document was deleted and its id is retired (HS-DOC-5).
    #[error("document {0} was deleted")]
    Deleted(DocId),
    /// The document's stored copy failed to load: it is quarantined and being recovered from
    /// peers (HS-SYNC-13). Reads and changes are refused until a good copy arrives — never run on
    /// an empty stand-in, which would show nothing and fork the document's history; a delete
    /// still discards it.
    #[error("document {0} is quarantined (its stored copy is corrupt): recovering it from peers")]
    Quarantined(DocId),
    /// `_devices` is only changed through registry records (HS-REG-5, HS-REG-7).
    #[error("the registry document cannot be edited or deleted directly")]
    RegistryDoc,
    /// A registry record did not verify.
    #[error("registry record rejected: {0}")]
    Record(String),
    /// The `_devices` bytes given at start-up do not load.
    #[error("stored registry document is corrupt: {0}")]
    CorruptRegistry(String),
    /// The store failed the write an app request waited for: the change is not durable.
    #[error("storage: {0}")]
    Storage(String),
}
