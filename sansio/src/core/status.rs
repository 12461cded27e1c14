//! A snapshot of sync progress for the app (`sync_status`).

use humansync_protocol::DeviceId;

use super::Core;
use super::cache::PendingIo;
use crate::{ConnId, Instant, SessionStats};

/// One peer session as the app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer.
    pub peer: DeviceId,
    /// The connection.
    pub conn: ConnId,
    /// Handshake complete.
    pub open: bool,
    /// Set reconciliation finished (HS-RECON-5).
    pub reconciled: bool,
    /// Reconciled and nothing outstanding either way: the peer has all our changes (HS-SYNC-7).
    pub up_to_date: bool,
    /// Documents with a sync or a want outstanding with this peer, or a send waiting for room
    /// in the window (HS-SYNC-15).
    pub outstanding: usize,
    /// Traffic counters.
    pub stats: SessionStats,
    /// Blobs the peer said it holds that this node remembers (at most the referenced blobs
    /// not held, issue 16 §3).
    pub blobs_claimed: usize,
}

/// The node's sync progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Every session.
    pub peers: Vec<PeerStatus>,
    /// Live documents held.
    pub docs: usize,
    /// Documents with work outstanding with some peer, plus loads waiting.
    pub docs_pending: usize,
    /// Referenced blobs not held yet.
    pub blobs_missing: usize,
    /// When a session last became fully reconciled and settled.
    pub last_sync: Option<Instant>,
    /// Documents whose bytes were refused or failed to load, most `MAX_QUARANTINED` (HS-SYNC-13).
    pub quarantined: Vec<super::Quarantined>,
}

/// The core's disk work since start, for the runtime's stats (the runtime keeps no copy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounts {
    /// Documents loaded: [`crate::IoAction::LoadDoc`] tasks issued.
    pub loads: u64,
    /// [`crate::IoAction::SaveDoc`] tasks answered [`crate::IoResult::Done`].
    pub saves_done: u64,
    /// Stored documents parsed by Automerge (a load that only forwards the bytes whole parses
    /// nothing, unless they came from a peer unparsed: HS-SYNC-12).
    pub parses: u64,
    /// Received `DocChanges` appended to the stored document without parsing it (issue 22 §1).
    pub appends: u64,
    /// Disk tasks issued and not answered yet (blob fetches and releases are not disk tasks).
    pub disk_pending: u64,
}

impl Core {
    /// The core's disk work: loads, saves done and tasks outstanding.
    pub fn io_counts(&self) -> IoCounts {
        let disk_pending = self
            .pending_io
            .values()
            .filter(|p| !matches!(p, PendingIo::Fetch { .. } | PendingIo::Release(_)))
            .count();
        IoCounts {
            disk_pending: disk_pending as u64,
            ..self.io_counts
        }
    }

    /// A snapshot of every session and of pending work.
    pub fn status(&self) -> SyncStatus {
        let peers: Vec<PeerStatus> = self
            .sessions
            .values()
            .map(|s| PeerStatus {
                peer: s.peer,
                conn: s.conn,
                open: s.is_open(),
                reconciled: s.phase.is_reconciled(),
                up_to_date: s.is_open() && s.is_settled(),
                outstanding: s.wanted.len()
                    + s.syncing.len()
                    + s.unacked.keys().filter(|d| !s.syncing.contains(*d)).count()
                    + s.window
                        .waiting_docs()
                        .filter(|d| !s.unacked.contains_key(*d))
                        .count(),
                stats: s.stats,
                blobs_claimed: s.peer_blobs.len(),
            })
            .collect();
        let mut pending: std::collections::BTreeSet<&humansync_protocol::DocId> = Default::default();
        for s in self.sessions.values() {
            pending.extend(s.wanted.iter());
            pending.extend(s.syncing.iter());
            pending.extend(s.unacked.keys());
            // HS-SYNC-15: sends waiting for room in the window.
            pending.extend(s.window.waiting_docs());
        }
        SyncStatus {
            docs_pending: pending.len() + self.pending_loads(),
            docs: self.metas.live(),
            blobs_missing: self.blobs.missing().len(),
            last_sync: self.last_sync,
            quarantined: self.quarantine.list(),
            peers,
        }
    }

    /// Debug text of what a session is waiting for (tests and logs).
    pub fn describe_session(&self, conn: ConnId) -> String {
        let Some(s) = self.sessions.get(&conn) else {
            return "no session".to_owned();
        };
        let detail: Vec<String> = s
            .syncing
            .iter()
            .map(|d| match self.cache.get(d).map(|l| (l, l.sync.get(&s.peer))) {
                None => format!("{d}: not loaded"),
                Some((_, None)) => format!("{d}: no sync state"),
                Some((l, Some(state))) => format!(
                    "{d}: ours={:?} shared={:?} theirs={:?} in_flight={}",
                    l.am.get_heads(),
                    state.shared_heads,
                    state.their_heads,
                    state.in_flight
                ),
            })
            .collect();
        format!(
            "wanted={:?} syncing={:?} phase={:?} {}",
            s.wanted,
            s.syncing,
            s.phase,
            detail.join("; ")
        )
    }

    /// Counters of the session on `conn`, if open.
    pub fn session_stats(&self, conn: ConnId) -> Option<SessionStats> {
        self.sessions.get(&conn).map(|s| s.stats)
    }
}
