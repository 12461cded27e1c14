//! Requests from [`crate::Node`] and [`crate::Doc`] handles to the driver task.

use std::net::SocketAddr;

use humansync_protocol::http::PairResponse;
use humansync_protocol::{BlobHash, DeviceId, DocId};
use humansync_sansio::AppRequest;
use tokio::sync::oneshot;

use crate::{Error, NodeStats, SyncStatus};

/// Where the driver sends an answer.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// One request to the driver.
pub(crate) enum Command {
    /// A read, change or delete of a document, completed by the core by id
    /// ([`humansync_sansio::Output::AppDone`]).
    App {
        request: AppRequest,
        reply: Reply<()>,
    },
    List {
        prefix: String,
        reply: Reply<Vec<DocId>>,
    },
    Status {
        reply: Reply<SyncStatus>,
    },
    Devices {
        reply: Reply<Vec<crate::DeviceInfo>>,
    },
    Stats {
        reply: Reply<NodeStats>,
    },
    StoreBlob {
        path: std::path::PathBuf,
        reply: Reply<BlobHash>,
    },
    ExportBlob {
        hash: BlobHash,
        to: std::path::PathBuf,
        reply: Reply<()>,
    },
    FetchBlob {
        hash: BlobHash,
        reply: Reply<()>,
    },
    /// How much of a blob is here ([`crate::Node::blob_progress`]).
    BlobProgress {
        hash: BlobHash,
        reply: Reply<crate::BlobProgress>,
    },
    /// Pin (`pin`) or unpin a blob (HS-BLOB-4).
    PinBlob {
        hash: BlobHash,
        pin: bool,
        reply: Reply<()>,
    },
    ApplyPairing {
        response: Box<PairResponse>,
        reply: Reply<()>,
    },
    AddPeerAddrs {
        peer: DeviceId,
        addrs: Vec<SocketAddr>,
    },
    /// The server's API answers again after failing: the server may have restarted, and a
    /// silent session with it may be dead at its end.
    ServerAnswered,
    /// A signed registry record the server handed over outside `_devices`: this device's own
    /// Revoked record, with the 403 answering its signed `GET /devices` (HS-GATE-7).
    RegistryRecord(humansync_protocol::SignedRecord),
    Shutdown {
        reply: Reply<()>,
    },
    /// Requests of the registry anchor (the server role), handled in `driver/anchor.rs`.
    Anchor(super::anchor::AnchorCommand),
}

/// The runtime's error for a local fault of the core.
pub(super) fn core_error(e: humansync_sansio::CoreError) -> Error {
    use humansync_sansio::CoreError as C;
    match e {
        C::Deleted(doc) => Error::Deleted(doc),
        C::Quarantined(doc) => Error::Quarantined(doc),
        C::RegistryDoc => Error::RegistryDoc,
        // Local faults, kept apart: not loaded is the driver's, a refused record the registry's.
        C::NotLoaded(doc) => Error::NotLoaded(doc),
        C::Record(reason) => Error::Registry(reason),
        C::Storage(reason) => Error::storage(&reason),
        other => Error::Storage(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Local faults of the core stay distinct in the runtime's error: a document not loaded is
    /// the node's own fault, a refused registry record the registry's — neither a storage error.
    #[test]
    fn core_errors_keep_their_kind() {
        let doc = DocId::new("notes/a").expect("a valid id");
        let not_loaded = core_error(humansync_sansio::CoreError::NotLoaded(doc.clone()));
        assert!(
            matches!(&not_loaded, Error::NotLoaded(d) if *d == doc),
            "{not_loaded:?}"
        );
        let record = core_error(humansync_sansio::CoreError::Record("bad signature".into()));
        assert!(matches!(record, Error::Registry(_)), "{record:?}");
        let corrupt = core_error(humansync_sansio::CoreError::CorruptRegistry("truncated".into()));
        assert!(matches!(corrupt, Error::Storage(_)), "{corrupt:?}");
    }
}
