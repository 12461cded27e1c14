//! Per-connection session state (SPEC.md §2–§3): two explicit state machines — the handshake
//! ([`Handshake`]) and the set-level sync phase ([`SyncPhase`]) — plus the document-level work
//! outstanding with the peer and the Synced timer.

mod handshake;
mod phase;

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::{BlobHash, Cursor, DeviceId, DocId, FrameDecoder, SetSummary};

use crate::{ConnId, Instant, Role};

pub(crate) use handshake::Handshake;
pub(crate) use phase::{OnReconcile, Opening, ResumeEnd, SyncPhase};

/// Counters for one session; tests assert on these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Frames sent.
    pub frames_out: u64,
    /// Frames received.
    pub frames_in: u64,
    /// Bytes sent, headers included.
    pub bytes_out: u64,
    /// Bytes received, headers included.
    pub bytes_in: u64,
    /// Reconcile messages sent.
    pub recon_out: u64,
    /// Reconcile messages received.
    pub recon_in: u64,
    /// Round trips waited for, counted at this end: frames that arrived after this end had sent
    /// at least one frame since the previous arrival (a dialer's Hello then Welcome counts 1).
    pub round_trips: u64,
}

/// One admitted connection and what the core tracks about it.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) conn: ConnId,
    pub(crate) peer: DeviceId,
    pub(crate) role: Role,
    /// The handshake (HS-VER-1 .. HS-VER-5).
    pub(crate) handshake: Handshake,
    /// The set-level sync: resume, range reconciliation (HS-RECON-10, HS-RESUME-6).
    pub(crate) phase: SyncPhase,
    pub(crate) decoder: FrameDecoder,
    /// Documents we asked for with DocWant and have not received yet.
    pub(crate) wanted: BTreeSet<DocId>,
    /// Documents whose Automerge sync with this peer has a message in flight.
    pub(crate) syncing: BTreeSet<DocId>,
    /// Documents sent whole (DocWhole), with the heads sent, that the peer has not yet shown it
    /// holds: outstanding until a DocSync (its acknowledgement, HS-SYNC-1) or DocWhole from the
    /// peer announces heads that include them, or it answers DocDeleted (HS-SYNC-7).
    pub(crate) unacked: BTreeMap<DocId, Vec<humansync_protocol::ChangeHash>>,
    /// Documents this session waits on a load for: a message to the peer (an answer, a whole
    /// document, a first sync message) goes out once the load is done (HS-SYNC-7).
    pub(crate) awaiting_loads: BTreeSet<DocId>,
    /// DocWhole and DocChanges counted both ways for `Held` (version 3, HS-SYNC-14).
    pub(crate) held: crate::core::held::HeldCount,
    /// Their bytes not yet covered by `Held` both ways, and the sends waiting for room
    /// (version 3, HS-SYNC-15).
    pub(crate) window: crate::core::send_window::SendWindow,
    /// Blobs the peer said it holds (HS-BLOB-2).
    pub(crate) peer_blobs: BTreeSet<BlobHash>,
    pub(crate) stats: SessionStats,
    /// `stats.frames_out` when the previous frame arrived (for `stats.round_trips`).
    pub(crate) frames_out_at_last_in: u64,
    /// When Synced was sent and is due (HS-RESUME-5).
    pub(crate) synced: SyncedClock,
    /// When bytes last arrived (a session silent for long may be dead at the peer's end).
    pub(crate) last_in: Instant,
}

/// When this session told the peer where it is in our log (HS-RESUME-5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SyncedClock {
    /// The position and set of the last Synced sent on this session.
    pub(crate) sent: Option<(Cursor, SetSummary)>,
    /// No Synced before this instant.
    pub(crate) not_before: Instant,
    /// A Synced waits for this instant.
    pub(crate) due: Option<Instant>,
}

impl Session {
    /// A session whose handshake starts now; the dialer has sent Hello with `hello_set`.
    pub(crate) fn new(conn: ConnId, peer: DeviceId, role: Role, now: Instant, hello_set: SetSummary) -> Self {
        let deadline = now.plus_ms(humansync_protocol::limits::HANDSHAKE_TIMEOUT_MS);
        let handshake = match role {
            Role::Dialer => Handshake::AwaitWelcome {
                deadline,
                hello_set,
                changed: BTreeSet::new(),
            },
            Role::Acceptor => Handshake::AwaitHello { deadline },
        };
        Session {
            conn,
            peer,
            role,
            handshake,
            phase: SyncPhase::Handshake,
            decoder: FrameDecoder::new(),
            wanted: BTreeSet::new(),
            syncing: BTreeSet::new(),
            unacked: BTreeMap::new(),
            awaiting_loads: BTreeSet::new(),
            held: Default::default(),
            window: Default::default(),
            peer_blobs: BTreeSet::new(),
            stats: SessionStats::default(),
            frames_out_at_last_in: 0,
            synced: SyncedClock::default(),
            last_in: now,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        matches!(self.handshake, Handshake::Open { .. })
    }

    /// The negotiated protocol version; 0 before the handshake completes.
    pub(crate) fn version(&self) -> u16 {
        self.handshake.version()
    }

    /// Whether the peer holds `doc` as this node last indexed it (HS-SYNC-4): reconciliation is
    /// over, so the sets were equal or their differences sent, and nothing about `doc` is still
    /// outstanding (HS-SYNC-7) or waiting to be sent on this session. Other documents may be.
    pub(crate) fn holds_as_indexed(&self, doc: &DocId) -> bool {
        self.phase.is_settled()
            && !self.wanted.contains(doc)
            && !self.syncing.contains(doc)
            && !self.unacked.contains_key(doc)
            && !self.awaiting_loads.contains(doc)
            && !self.window.waiting_docs().any(|d| d == doc)
    }

    /// HS-SYNC-7: reconciliation over and nothing outstanding in either direction, nor waiting
    /// here to be sent (on a load, or for room in the window, HS-SYNC-15).
    pub(crate) fn is_settled(&self) -> bool {
        self.phase.is_settled()
            && self.wanted.is_empty()
            && self.syncing.is_empty()
            && self.unacked.is_empty()
            && self.awaiting_loads.is_empty()
            && !self.window.has_waiting()
            && !self.held.owes()
    }
}
