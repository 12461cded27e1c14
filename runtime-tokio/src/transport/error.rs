//! Transport errors. Peer verdicts (a close code) are kept apart from local and network faults.

use humansync_protocol::{BlobHash, CloseCode, DeviceId};
use humansync_sansio::ConnId;
use humansync_sansio::gate::Admission;
use iroh::endpoint::{ConnectError, ConnectingError, ConnectionError};

use super::convert::close_code;
use super::gate::Gate;

/// A boxed error from iroh or iroh-blobs (their error types change between releases).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The endpoint could not be configured or bound (bad address, port in use).
    #[error("binding the endpoint failed: {0}")]
    Bind(#[source] BoxError),
    /// The blob store failed (open, add, read, export, tag, sync). The message carries the
    /// whole chain of causes: iroh-blobs wraps a store's own error (such as a sealed group that
    /// failed authentication, naming its file) in errors that do not print it.
    #[error("blob store: {}", with_causes(.0.as_ref()))]
    Store(#[source] BoxError),
    /// Our own gate does not admit this peer, so we do not talk to it (HS-GATE-3).
    #[error("peer not admitted locally: {0}")]
    NotAdmitted(CloseCode),
    /// The peer closed the connection with this application code, for example because
    /// it does not admit us (HS-GATE-3: NOT_REGISTERED or REVOKED).
    #[error("peer closed the connection: {0}")]
    ClosedByPeer(CloseCode),
    /// The peer could not be reached: no address found, unreachable, handshake failed.
    #[error("connecting failed: {0}")]
    Connect(#[source] BoxError),
    /// The session's connection failed before the session started.
    #[error("connection failed: {0}")]
    Connection(#[source] BoxError),
    /// No open session has this id (never existed, closed, or closing).
    #[error("no open session {0:?}")]
    UnknownConn(ConnId),
    /// The session's send queue is full: the peer is not reading fast enough.
    #[error("send queue of {conn:?} is full ({queued} bytes queued, {len} more refused)")]
    QueueFull {
        /// The session.
        conn: ConnId,
        /// Bytes already queued.
        queued: usize,
        /// Size of the refused message.
        len: usize,
    },
    /// A blob fetch failed part way; what arrived is kept and the next fetch resumes (HS-BLOB-2).
    #[error("fetching blob {hash} failed: {source}")]
    Fetch {
        /// The blob.
        hash: BlobHash,
        /// The iroh-blobs error.
        #[source]
        source: BoxError,
    },
    /// The blob is not complete in the local store.
    #[error("blob {0} is not in the local store")]
    BlobMissing(BlobHash),
    /// A local file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// iroh returned a key that is not a valid Ed25519 point (cannot happen with iroh's TLS).
    #[error("invalid endpoint id from iroh")]
    InvalidId,
    /// The gate passed to bind was built for another device id than the secret key's.
    #[error("the gate was built for another device id than the secret key's")]
    GateMismatch,
}

impl TransportError {
    /// True when a full disk (or an exhausted quota) caused this, anywhere in its chain of
    /// sources: a local fault that ends once space is freed.
    pub fn is_disk_full(&self) -> bool {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if crate::store::is_disk_full(io) {
                    return true;
                }
                if let Some(inner) = io.get_ref() {
                    // `io::Error::source` skips the error it wraps.
                    next = Some(inner);
                    continue;
                }
            }
            // Some layers keep only the OS error's text.
            let text = e.to_string();
            if text.contains("No space left on device") || text.contains("Disk quota exceeded") {
                return true;
            }
            next = e.source();
        }
        false
    }
}

/// Maps a connect failure; a refusal by either gate keeps its close code.
pub(crate) fn connect_error(err: ConnectError, gate: &Gate, peer: &DeviceId) -> TransportError {
    let connection = match &err {
        ConnectError::Connecting {
            source: ConnectingError::LocallyRejected { .. },
            ..
        } => {
            // Our own hook refused: report the gate's verdict.
            let code = match gate.admission(peer) {
                Admission::Reject(code) => code,
                Admission::Admit => CloseCode::NOT_REGISTERED,
            };
            return TransportError::NotAdmitted(code);
        }
        ConnectError::Connecting {
            source: ConnectingError::ConnectionError { source, .. },
            ..
        } => Some(source),
        ConnectError::Connection { source, .. } => Some(source),
        _ => None,
    };
    match connection {
        Some(ConnectionError::ApplicationClosed(close)) => {
            TransportError::ClosedByPeer(close_code(close.error_code))
        }
        _ => TransportError::Connect(Box::new(err)),
    }
}

/// Maps a failure to open the session stream.
pub(crate) fn connection_error(err: &ConnectionError) -> TransportError {
    match err {
        ConnectionError::ApplicationClosed(close) => {
            TransportError::ClosedByPeer(close_code(close.error_code))
        }
        other => TransportError::Connection(Box::new(other.clone())),
    }
}

/// `e`'s message followed by each cause's message not already part of it.
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = cause.source();
    }
    text
}
