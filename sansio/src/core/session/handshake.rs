//! The handshake phase of one session (HS-VER-1 .. HS-VER-5).
//!
//! ```text
//! dialer:   AwaitWelcome{deadline, hello_set, changed} ── Welcome ──► Open{version, opened_at}
//! acceptor: AwaitHello{deadline} ── Hello (answered with Welcome) ──► Open{version, opened_at}
//! either:   deadline passes ──► closed (TIMEOUT, HS-VER-3, HS-VER-5)
//! ```

use std::collections::BTreeSet;

use humansync_protocol::{DocId, SetSummary};

use crate::Instant;

/// Where a session is in its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// Dialer: Hello sent, waiting for Welcome until the deadline (HS-VER-5).
    AwaitWelcome {
        /// When the session is closed unless Welcome arrived.
        deadline: Instant,
        /// The set summary sent in Hello: both sides compare (Hello set, Welcome set), so they
        /// agree on whether reconciliation runs (HS-RECON-1).
        hello_set: SetSummary,
        /// Documents (and `_devices`) changed meanwhile: they are not in the Hello summary and
        /// are pushed once the session opens (HS-SYNC-4).
        changed: BTreeSet<DocId>,
    },
    /// Acceptor: waiting for Hello until the deadline (HS-VER-3).
    AwaitHello {
        /// When the session is closed unless Hello arrived.
        deadline: Instant,
    },
    /// Handshake complete.
    Open {
        /// The negotiated protocol version.
        version: u16,
        /// When the handshake completed (for the duplicate-session rule, HS-TRANSPORT-4).
        opened_at: Instant,
    },
}

impl Handshake {
    /// The handshake deadline, while it runs.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self {
            Handshake::AwaitWelcome { deadline, .. } | Handshake::AwaitHello { deadline } => Some(*deadline),
            Handshake::Open { .. } => None,
        }
    }

    /// The negotiated version; 0 before the handshake completes.
    pub(crate) fn version(&self) -> u16 {
        match self {
            Handshake::Open { version, .. } => *version,
            _ => 0,
        }
    }

    /// When the handshake completed, once it has.
    pub(crate) fn opened_at(&self) -> Option<Instant> {
        match self {
            Handshake::Open { opened_at, .. } => Some(*opened_at),
            _ => None,
        }
    }

    /// Completes the handshake with `version`; returns the documents changed while the dialer
    /// waited for Welcome (HS-SYNC-4).
    pub(crate) fn open(&mut self, version: u16, now: Instant) -> BTreeSet<DocId> {
        let open = Handshake::Open {
            version,
            opened_at: now,
        };
        match std::mem::replace(self, open) {
            Handshake::AwaitWelcome { changed, .. } => changed,
            Handshake::AwaitHello { .. } | Handshake::Open { .. } => BTreeSet::new(),
        }
    }
}
