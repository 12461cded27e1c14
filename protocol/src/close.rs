//! Close codes: QUIC application error codes and the `code` of a Close message (HS-CLOSE-1).

/// A session close code (HS-CLOSE-1). Unknown values MUST be treated like [`CloseCode::PROTOCOL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct CloseCode(pub u32);

impl CloseCode {
    /// Orderly close, nothing wrong.
    pub const NORMAL: CloseCode = CloseCode(0);
    /// The peer is not in the local registry (HS-GATE-2).
    pub const NOT_REGISTERED: CloseCode = CloseCode(1);
    /// The peer has been revoked (HS-GATE-2, HS-GATE-4).
    pub const REVOKED: CloseCode = CloseCode(2);
    /// A message arrived out of order or was not allowed in this state (HS-VER-3).
    pub const PROTOCOL: CloseCode = CloseCode(3);
    /// A frame payload did not decode as one valid message (HS-FRAME-3).
    pub const MALFORMED: CloseCode = CloseCode(4);
    /// A frame length exceeded [`crate::limits::MAX_FRAME_LEN`] (HS-FRAME-2).
    pub const FRAME_TOO_LARGE: CloseCode = CloseCode(5);
    /// No protocol version in common (HS-VER-2).
    pub const UNSUPPORTED_VERSION: CloseCode = CloseCode(6);
    /// A limit other than the frame size was exceeded (HS-MSG-2).
    pub const LIMIT: CloseCode = CloseCode(7);
    /// The peer did not complete the handshake in time (HS-VER-3).
    pub const TIMEOUT: CloseCode = CloseCode(8);
    /// A second session to the same peer lost the tie-break (HS-TRANSPORT-3).
    pub const DUPLICATE: CloseCode = CloseCode(9);
    /// The node is shutting down.
    pub const SHUTDOWN: CloseCode = CloseCode(10);
    /// A local fault unrelated to the peer's behaviour.
    pub const INTERNAL: CloseCode = CloseCode(11);

    /// A short stable name for logs and reports.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "normal",
            1 => "not_registered",
            2 => "revoked",
            3 => "protocol",
            4 => "malformed",
            5 => "frame_too_large",
            6 => "unsupported_version",
            7 => "limit",
            8 => "timeout",
            9 => "duplicate",
            10 => "shutdown",
            11 => "internal",
            _ => "unknown",
        }
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}
