//! The library's error type.

use humansync_protocol::DocId;

/// What went wrong in a library call. Peer misbehaviour never surfaces here: the node closes the
/// session and carries on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A document id does not follow SPEC.md's rules (HS-DOC-1).
    #[error("invalid document id: {0}")]
    DocId(#[from] humansync_protocol::DocIdError),
    /// The document was deleted; its id is retired (HS-DOC-5).
    #[error("document {0} was deleted")]
    Deleted(DocId),
    /// The document's stored copy is corrupt: it is quarantined and being recovered from peers
    /// (HS-SYNC-13). Reads and changes are refused until a good copy arrives — try again later;
    /// the change was not made. A delete still discards the document.
    #[error("document {0} is quarantined (its stored copy is corrupt): recovering it from peers")]
    Quarantined(DocId),
    /// A document the node had just opened was not loaded in its core when used: a local fault of
    /// the node (its driver), never a peer's doing nor a storage failure.
    #[error("document {0} is not loaded")]
    NotLoaded(DocId),
    /// The registry document cannot be edited directly.
    #[error("the registry document is read-only")]
    RegistryDoc,
    /// Automerge refused an operation.
    #[error("document operation failed: {0}")]
    Automerge(String),
    /// A stored value has another type than the one asked for.
    #[error("value at {key:?} is not a {expected}")]
    WrongType {
        /// The key read.
        key: String,
        /// The type asked for.
        expected: &'static str,
    },
    /// Local storage failed; nothing was acknowledged. A document change or delete that fails
    /// so was already applied in this node's memory and sent to connected peers: it may still
    /// take effect everywhere, but it is not durable on this device (retry it to make it so).
    #[error("storage: {0}")]
    Storage(String),
    /// The disk holding the node's storage is full (or a quota is exhausted); nothing was
    /// acknowledged, as with [`Error::Storage`] (a change or delete may still take effect). A
    /// local fault: the node recovers by itself once space is freed, without a restart; retry
    /// then.
    #[error("disk full: {0}")]
    DiskFull(String),
    /// A key (the data key or the device identity key) could not be obtained: an unreachable or
    /// locked OS keychain, a missing or unsafe key file, a key kept elsewhere than configured.
    /// A local fault; nothing was changed.
    #[error("keys: {0}")]
    Key(#[from] crate::keys::KeyError),
    /// Another node, in this or another process, has the store open; nothing was changed.
    #[error("storage: {} is in use by another node (another process of this app?)", .0.display())]
    StoreInUse(std::path::PathBuf),
    /// The network layer failed.
    #[error("network: {0}")]
    Network(String),
    /// The blob is not held locally and no connected peer could provide it.
    #[error("blob {0} is not available from any connected peer")]
    BlobUnavailable(humansync_protocol::BlobHash),
    /// Pairing failed.
    #[error("pairing: {0}")]
    Pairing(String),
    /// The server password is wrong — or someone between this device and the server altered the
    /// exchange (OPAQUE cannot tell the two apart); nothing was stored.
    #[error("wrong password (or the exchange with the server was altered in transit); nothing was stored")]
    WrongPassword,
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A registry-anchor operation on a node that is not its own anchor (see [`crate::Node::init_anchor`]).
    #[error("this node is not a registry anchor")]
    NotAnchor,
    /// A registry record was refused (it does not verify, or the view is full).
    #[error("registry: {0}")]
    Registry(String),
    /// The node has shut down.
    #[error("the node has shut down")]
    Shutdown,
}

/// How the disk worker marks a failure reason as a full disk on its way through the core's
/// `IoResult::Failed` (whose reason is text), so that the driver answers [`Error::DiskFull`].
pub(crate) const DISK_FULL_REASON: &str = "disk full: ";

impl Error {
    /// The error for a failed blob-store call: [`Error::DiskFull`] when a full disk caused it.
    pub(crate) fn blob_store(e: &crate::transport::TransportError) -> Error {
        if e.is_disk_full() {
            Error::DiskFull(e.to_string())
        } else {
            Error::Storage(e.to_string())
        }
    }

    /// The error for a failed storage task with this reason ([`DISK_FULL_REASON`]).
    pub(crate) fn storage(reason: &str) -> Error {
        match reason.strip_prefix(DISK_FULL_REASON) {
            Some(cause) => Error::DiskFull(cause.to_owned()),
            None => Error::Storage(reason.to_owned()),
        }
    }
}
