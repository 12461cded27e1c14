//! Which of two open sessions with the same peer survives (HS-TRANSPORT-3, HS-TRANSPORT-4).

use humansync_protocol::DeviceId;

use crate::{ConnId, Instant, Role};

/// Two sessions that open within this long of each other are a race of simultaneous dials; an
/// open session older than this when the peer dials again is gone at the peer's end, ms.
pub(crate) const DUPLICATE_RACE_MS: u64 = 5_000;

/// A session that just opened while another with the same peer was open.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair {
    pub(crate) me: DeviceId,
    pub(crate) peer: DeviceId,
    pub(crate) now: Instant,
    /// The session that just opened, and our role in it.
    pub(crate) newer: (ConnId, Role),
    /// The session already open, our role in it, and when its handshake completed.
    pub(crate) older: (ConnId, Role, Option<Instant>),
}

/// The session to close with CLOSE_DUPLICATE.
///
/// A node dials only a peer it has no session with (HS-TRANSPORT-4), so a second session means
/// either a race of fresh dials from both sides, or that one side lost the older session (it
/// restarted, or its end of the connection went away unnoticed here). The newer is kept when
/// both were dialled by the same side, or when the older had been open for
/// [`DUPLICATE_RACE_MS`] already; otherwise (a race) the session dialled by the lower id is kept
/// (HS-TRANSPORT-3). Both ends see the same two sessions with mirrored roles and about the same
/// ages, so they compute the same winner, and either may close the loser.
pub(crate) fn loser(pair: Pair) -> ConnId {
    let (newer, newer_role) = pair.newer;
    let (older, older_role, opened) = pair.older;
    let older_is_stale = opened.is_some_and(|t| pair.now.ms_since(t) >= DUPLICATE_RACE_MS);
    if newer_role == older_role || older_is_stale {
        return older;
    }
    let (dialled_by_me, dialled_by_peer) = if newer_role == Role::Dialer {
        (newer, older)
    } else {
        (older, newer)
    };
    if pair.me < pair.peer {
        dialled_by_peer
    } else {
        dialled_by_me
    }
}
