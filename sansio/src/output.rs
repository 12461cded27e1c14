//! What the core asks of its driver: bytes to send, connections to close, I/O to perform, events to report.

use humansync_protocol::{CloseCode, DeviceId};

use crate::{Event, IoTask};

/// Identifies one transport connection; chosen by the runtime, unique for the core's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Which side opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We dialled: we send Hello first (HS-VER-1).
    Dialer,
    /// The peer dialled: we wait for Hello (HS-VER-3).
    Acceptor,
}

/// One output of the core. Drain with [`crate::Core::poll_output`] until `None` after every input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send these bytes (one or more whole frames) on the connection's session stream, in order.
    Transmit {
        /// The connection.
        conn: ConnId,
        /// The framed bytes.
        bytes: Vec<u8>,
    },
    /// Close this connection with `code`. Any Close frame to send has already been emitted as a Transmit.
    Close {
        /// The connection.
        conn: ConnId,
        /// QUIC application close code (HS-CLOSE-1).
        code: CloseCode,
    },
    /// Close every connection with this peer on every ALPN, at once (HS-GATE-4), and stop dialling it.
    DisconnectPeer {
        /// The peer no longer admitted.
        peer: DeviceId,
        /// Why (CloseCode::REVOKED).
        code: CloseCode,
    },
    /// Dial this peer (HS-TRANSPORT-4): the connection policy decided it is time. Answer with
    /// [`crate::Core::handle_connection`] (role [`Role::Dialer`]) once connected, or
    /// [`crate::Core::handle_dial_failed`]. Addresses are the runtime's business.
    Dial {
        /// The peer to dial.
        peer: DeviceId,
    },
    /// The admission view changed: the runtime's gate MUST decide every new connection and blob
    /// request with this view from now on (HS-GATE-3); emitted before any [`Output::DisconnectPeer`]
    /// it causes.
    Gate(crate::gate::GateView),
    /// Perform this I/O and answer with [`crate::Core::handle_io_result`].
    Io(IoTask),
    /// Report this to the app.
    Event(Event),
    /// The app request `id` ([`crate::Core::handle_app_request`]) is complete: `Ok` once it ran
    /// and what it wrote is durable (HS-SYNC-8), else why not.
    AppDone {
        /// The request.
        id: crate::AppRequestId,
        /// Its outcome.
        result: Result<(), crate::CoreError>,
    },
}
