//! What the transport reports to the driver.

use humansync_protocol::{CloseCode, DeviceId};
use humansync_sansio::{ConnId, Role};

/// One event from the transport, for the driver to feed into the core.
///
/// Per [`ConnId`] the order is fixed: exactly one `Connected`, then any number of `Bytes`,
/// then exactly one `Closed`. A connection the gate refuses produces no event at all (HS-GATE-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A session stream is open with an admitted peer (HS-TRANSPORT-2).
    Connected {
        /// The transport's id for this session, unique in the process.
        conn: ConnId,
        /// The TLS-authenticated peer (HS-GATE-1).
        peer: DeviceId,
        /// Whether we dialled (and so send Hello first, HS-VER-1) or accepted.
        role: Role,
    },
    /// Bytes received on the session stream, in order; chunk boundaries carry no meaning
    /// (the core does the framing, HS-FRAME-1).
    Bytes {
        /// The session.
        conn: ConnId,
        /// The received bytes.
        bytes: Vec<u8>,
    },
    /// The session ended: closed by the peer (its QUIC application code), by us (the code we
    /// closed with), or lost (timeout or transport failure: [`CloseCode::INTERNAL`]).
    Closed {
        /// The session.
        conn: ConnId,
        /// Why (HS-CLOSE-1).
        code: CloseCode,
    },
}
