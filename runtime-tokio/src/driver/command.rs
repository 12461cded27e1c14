//! Requests from [`crate::Node`] and [`crate::Doc`] handles to the driver task.

use std::any::Any;
use std::net::SocketAddr;

use automerge::Automerge;
use humansync_protocol::http::PairResponse;
use humansync_protocol::{BlobHash, DeviceId, DocId};
use tokio::sync::oneshot;

use crate::{Error, NodeStats, SyncStatus};

/// A boxed value crossing the channel (the caller downcasts it back).
pub(crate) type AnyBox = Box<dyn Any + Send>;
/// A read of a loaded document.
pub(crate) type ReadFn = Box<dyn FnOnce(&Automerge) -> AnyBox + Send>;
/// A change to a loaded document; `Err` aborts without changing anything.
pub(crate) type ChangeFn = Box<dyn FnOnce(&mut Automerge) -> Result<AnyBox, String> + Send>;
/// Where the driver sends an answer.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// One request to the driver.
pub(crate) enum Command {
    Read {
        doc: DocId,
        f: ReadFn,
        reply: Reply<AnyBox>,
    },
    Change {
        doc: DocId,
        f: ChangeFn,
        reply: Reply<AnyBox>,
    },
    Delete {
        doc: DocId,
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

impl Command {
    /// The document a command needs loaded first, if any.
    pub(crate) fn doc(&self) -> Option<&DocId> {
        match self {
            Command::Read { doc, .. } | Command::Change { doc, .. } => Some(doc),
            _ => None,
        }
    }

    /// Answers the command with an error, whatever its kind.
    pub(crate) fn fail(self, error: Error) {
        match self {
            Command::Read { reply, .. } | Command::Change { reply, .. } => drop(reply.send(Err(error))),
            Command::Delete { reply, .. } => drop(reply.send(Err(error))),
            Command::List { reply, .. } => drop(reply.send(Err(error))),
            Command::Status { reply } => drop(reply.send(Err(error))),
            Command::Devices { reply } => drop(reply.send(Err(error))),
            Command::Stats { reply } => drop(reply.send(Err(error))),
            Command::FetchBlob { reply, .. }
            | Command::ExportBlob { reply, .. }
            | Command::PinBlob { reply, .. } => drop(reply.send(Err(error))),
            Command::StoreBlob { reply, .. } => drop(reply.send(Err(error))),
            Command::BlobProgress { reply, .. } => drop(reply.send(Err(error))),
            Command::ApplyPairing { reply, .. } => drop(reply.send(Err(error))),
            Command::Shutdown { reply } => drop(reply.send(Err(error))),
            Command::AddPeerAddrs { .. } | Command::ServerAnswered => {}
            Command::Anchor(cmd) => cmd.fail(error),
        }
    }
}
