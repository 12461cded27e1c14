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
    Shutdown {
        reply: Reply<()>,
    },
    /// Requests of the registry anchor (the server role), handled in `driver/anchor.rs`.
    Anchor(super::anchor::AnchorCommand),
}
