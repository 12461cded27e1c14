//! Why a session is closed: the peer's faults, typed, and this end's own decisions.
//!
//! Every protocol violation the core detects on a session is one [`PeerFault`] variant, and
//! [`PeerFault::close_code`] is the one place that maps a fault to its wire close code
//! (SPEC.md §2, HS-CLOSE-1). The Close message's `reason` is the fault's `Display` text, cut to
//! `MAX_REASON_LEN` (HS-CLOSE-1); it is informational only and stable, since transcripts and
//! conformance vectors record it byte for byte.
//!
//! A close that is not the peer's fault — the duplicate-session tie-break, or the app or runtime
//! closing a session — is a [`Closing`] of its own kind, never a peer fault. Local faults of app
//! operations are [`crate::CoreError`].
//!
//! | fault                         | close code            | requirement              |
//! |-------------------------------|-----------------------|--------------------------|
//! | `Frame`                       | its own (`FRAME_TOO_LARGE` or `MALFORMED`) | HS-FRAME-2, HS-FRAME-3 |
//! | `HandshakeTimeout`            | `TIMEOUT`             | HS-VER-3, HS-VER-5       |
//! | `NoCommonVersion`             | `UNSUPPORTED_VERSION` | HS-VER-2                 |
//! | `VersionNotOffered`           | `PROTOCOL`            | HS-VER-4                 |
//! | `UnexpectedMessage`           | `PROTOCOL`            | HS-VER-3                 |
//! | `NeedsVersion2`               | `PROTOCOL`            | HS-MSG-5                 |
//! | `UnexpectedReconcile`         | `PROTOCOL`            | HS-RECON-10              |
//! | `Recon`                       | its own (`MALFORMED` or `PROTOCOL`) | HS-RECON-2, HS-RECON-11 |
//! | `UnexpectedResume`/`Resumed`  | `PROTOCOL`            | HS-RESUME-2, HS-RESUME-3 |
//! | `RegistryDeleted`             | `PROTOCOL`            | HS-REG-7                 |
//! | `RegistryChanges`             | `PROTOCOL`            | HS-REG-6                 |
//! | `BadHeldCount`                | `PROTOCOL`            | HS-SYNC-14               |
//! | `BadHeldRefused`              | `PROTOCOL`            | HS-SYNC-14               |
//! | `DocRefused`                  | `PROTOCOL`            | HS-SYNC-10, HS-SYNC-12   |

use humansync_protocol::{CloseCode, DocId, FrameError};

use crate::recon::ReconError;

/// A protocol violation by the peer: the session is closed with [`PeerFault::close_code`] and
/// the fault's text as the Close reason. Nothing of a faulty message is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerFault {
    /// The byte stream is no longer a valid sequence of frames: a length over the limit, an
    /// empty frame, or a payload that is not one valid message (HS-FRAME-2, HS-FRAME-3).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The handshake did not complete before its deadline (HS-VER-3, HS-VER-5).
    #[error("no Hello before the handshake deadline")]
    HandshakeTimeout,
    /// The peer's Hello offers no version this node accepts (HS-VER-2).
    #[error("no common protocol version")]
    NoCommonVersion,
    /// The peer's Welcome selected a version this node did not offer (HS-VER-4).
    #[error("Welcome selected a version not in our Hello")]
    VersionNotOffered,
    /// A message not allowed in the session's state: anything but Hello/Welcome before the
    /// handshake, or a second Hello/Welcome after it (HS-VER-3). Carries the message kind.
    #[error("unexpected {0} in this session state")]
    UnexpectedMessage(&'static str),
    /// A message of a later protocol version than the session's: a version-2 message in a
    /// version-1 session, `Held` before version 3 (HS-MSG-5). Carries the message kind.
    #[error("{0} needs a later protocol version")]
    NeedsVersion2(&'static str),
    /// A Reconcile when it is not the peer's turn, or after reconciliation ended (HS-RECON-10).
    #[error("unexpected Reconcile")]
    UnexpectedReconcile,
    /// A Reconcile whose ranges break the range rules (HS-RECON-2, HS-RECON-5, HS-RECON-11).
    #[error(transparent)]
    Recon(#[from] ReconError),
    /// A Resume not expected: outside a resume, or a second one (HS-RESUME-2).
    #[error("unexpected Resume")]
    UnexpectedResume,
    /// A Resumed not expected: outside a resume, or a second one (HS-RESUME-3).
    #[error("unexpected Resumed")]
    UnexpectedResumed,
    /// A `Held` whose count exceeds the DocWhole and DocChanges messages sent on the session, or
    /// is below the previous one (HS-SYNC-14). Carries the count.
    #[error("Held count {0} out of order")]
    BadHeldCount(u64),
    /// A `Held` whose `refused` numbers are not strictly ascending, or not all above the
    /// previous count and at most its own (HS-SYNC-14). Carries the count.
    #[error("Held refused list out of order or range (count {count})")]
    BadHeldRefused {
        /// The `Held`'s count.
        count: u64,
    },
    /// A DocDeleted for `_devices`, which is never deleted (HS-REG-7).
    #[error("the registry document cannot be deleted")]
    RegistryDeleted,
    /// A DocChanges for `_devices`, which syncs by its own digest and never travels as changes
    /// (HS-REG-6, HS-RESUME-4).
    #[error("DocChanges for the registry document")]
    RegistryChanges,
    /// Document bytes that were refused before parsing or failed to apply: nothing of them was
    /// stored or forwarded (HS-SYNC-10, HS-SYNC-12). `reason` is the whole Close reason.
    #[error("{reason}")]
    DocRefused {
        /// The document the bytes were for.
        doc: DocId,
        /// What was wrong with them (it names the message and, mostly, the document).
        reason: String,
    },
}

impl PeerFault {
    /// The wire close code for this fault (the one place faults map to codes, HS-CLOSE-1).
    pub fn close_code(&self) -> CloseCode {
        match self {
            PeerFault::Frame(e) => e.close_code(),
            PeerFault::Recon(e) => e.close_code(),
            PeerFault::HandshakeTimeout => CloseCode::TIMEOUT,
            PeerFault::NoCommonVersion => CloseCode::UNSUPPORTED_VERSION,
            PeerFault::VersionNotOffered
            | PeerFault::UnexpectedMessage(_)
            | PeerFault::NeedsVersion2(_)
            | PeerFault::UnexpectedReconcile
            | PeerFault::UnexpectedResume
            | PeerFault::UnexpectedResumed
            | PeerFault::BadHeldCount(_)
            | PeerFault::BadHeldRefused { .. }
            | PeerFault::RegistryDeleted
            | PeerFault::RegistryChanges
            | PeerFault::DocRefused { .. } => CloseCode::PROTOCOL,
        }
    }
}

/// Why this end closes a session (with a Close message, then the connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Closing {
    /// The peer broke the protocol.
    Fault(PeerFault),
    /// This session lost the duplicate-session tie-break (HS-TRANSPORT-3, HS-TRANSPORT-4).
    Duplicate,
    /// The app or runtime closed it (for example at shutdown), with this code.
    Local(CloseCode),
}

impl Closing {
    /// The wire close code.
    pub(crate) fn code(&self) -> CloseCode {
        match self {
            Closing::Fault(fault) => fault.close_code(),
            Closing::Duplicate => CloseCode::DUPLICATE,
            Closing::Local(code) => *code,
        }
    }

    /// The Close message's reason text, before it is cut to `MAX_REASON_LEN`.
    pub(crate) fn reason(&self) -> String {
        match self {
            Closing::Fault(fault) => fault.to_string(),
            Closing::Duplicate => "duplicate session".to_owned(),
            Closing::Local(_) => "closed locally".to_owned(),
        }
    }
}

impl From<PeerFault> for Closing {
    fn from(fault: PeerFault) -> Self {
        Closing::Fault(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HS-CLOSE-1: every fault's close code and reason text, as the wire carries them (the
    /// transcripts and conformance vectors hold the same bytes).
    #[test]
    fn every_fault_maps_to_its_code_and_reason() {
        let doc = DocId::new("notes/a").expect("a valid id");
        let table: Vec<(Closing, CloseCode, &str)> = vec![
            (
                PeerFault::Frame(FrameError::TooLarge(9_000_000)).into(),
                CloseCode::FRAME_TOO_LARGE,
                "frame of 9000000 bytes exceeds the limit",
            ),
            (
                PeerFault::Frame(FrameError::Empty).into(),
                CloseCode::MALFORMED,
                "empty frame",
            ),
            (
                PeerFault::HandshakeTimeout.into(),
                CloseCode::TIMEOUT,
                "no Hello before the handshake deadline",
            ),
            (
                PeerFault::NoCommonVersion.into(),
                CloseCode::UNSUPPORTED_VERSION,
                "no common protocol version",
            ),
            (
                PeerFault::VersionNotOffered.into(),
                CloseCode::PROTOCOL,
                "Welcome selected a version not in our Hello",
            ),
            (
                PeerFault::UnexpectedMessage("Reconcile").into(),
                CloseCode::PROTOCOL,
                "unexpected Reconcile in this session state",
            ),
            (
                PeerFault::NeedsVersion2("Resume").into(),
                CloseCode::PROTOCOL,
                "Resume needs a later protocol version",
            ),
            (
                PeerFault::UnexpectedReconcile.into(),
                CloseCode::PROTOCOL,
                "unexpected Reconcile",
            ),
            (
                PeerFault::Recon(ReconError::NoRanges).into(),
                CloseCode::MALFORMED,
                "Reconcile carries no range",
            ),
            (
                PeerFault::Recon(ReconError::DevicesItem { index: 2 }).into(),
                CloseCode::PROTOCOL,
                "range 2 lists _devices as an item",
            ),
            (
                PeerFault::UnexpectedResume.into(),
                CloseCode::PROTOCOL,
                "unexpected Resume",
            ),
            (
                PeerFault::UnexpectedResumed.into(),
                CloseCode::PROTOCOL,
                "unexpected Resumed",
            ),
            (
                PeerFault::BadHeldCount(7).into(),
                CloseCode::PROTOCOL,
                "Held count 7 out of order",
            ),
            (
                PeerFault::BadHeldRefused { count: 7 }.into(),
                CloseCode::PROTOCOL,
                "Held refused list out of order or range (count 7)",
            ),
            (
                PeerFault::RegistryDeleted.into(),
                CloseCode::PROTOCOL,
                "the registry document cannot be deleted",
            ),
            (
                PeerFault::RegistryChanges.into(),
                CloseCode::PROTOCOL,
                "DocChanges for the registry document",
            ),
            (
                PeerFault::DocRefused {
                    doc,
                    reason: "DocWhole for notes/a refused: bad chunk".to_owned(),
                }
                .into(),
                CloseCode::PROTOCOL,
                "DocWhole for notes/a refused: bad chunk",
            ),
            (Closing::Duplicate, CloseCode::DUPLICATE, "duplicate session"),
            (
                Closing::Local(CloseCode::SHUTDOWN),
                CloseCode::SHUTDOWN,
                "closed locally",
            ),
        ];
        for (closing, code, reason) in table {
            assert_eq!(closing.code(), code, "{closing:?}");
            assert_eq!(closing.reason(), reason, "{closing:?}");
        }
    }
}
