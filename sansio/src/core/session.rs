//! Per-connection session state (SPEC.md §2–§3).

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::{BlobHash, Cursor, DeviceId, DocId, FrameDecoder, SetSummary};

use crate::{ConnId, Instant, Role};

/// Where a session is in its lifecycle (HS-VER-1 .. HS-VER-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Dialer: Hello sent, waiting for Welcome until the deadline (HS-VER-5).
    AwaitWelcome { deadline: Instant },
    /// Acceptor: waiting for Hello until the deadline.
    AwaitHello { deadline: Instant },
    /// Handshake complete.
    Open,
}

/// Progress of set reconciliation with this peer (HS-RECON-*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReconPhase {
    /// Not started (handshake pending).
    Pending,
    /// Messages are in flight.
    Running,
    /// Finished: an all-Skip message was sent or received, or the summaries matched.
    Done,
}

/// Progress of a version-2 resume (HS-RESUME-2 .. HS-RESUME-4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ResumeProgress {
    /// Our answer to the peer's Resume: whether it is complete (once decided).
    pub(crate) answered: Option<bool>,
    /// The peer's Resumed: whether its answer was complete (once received).
    pub(crate) received: Option<bool>,
}

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
    pub(crate) phase: Phase,
    pub(crate) decoder: FrameDecoder,
    pub(crate) recon: ReconPhase,
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
    /// The all-`Skip` Reconcile that ends reconciliation, held until the document messages caused
    /// by the same input have been sent (HS-RECON-10).
    pub(crate) final_reply: Option<Vec<humansync_protocol::RangeEntry>>,
    /// Blobs the peer said it holds (HS-BLOB-2).
    pub(crate) peer_blobs: BTreeSet<BlobHash>,
    pub(crate) stats: SessionStats,
    /// `stats.frames_out` when the previous frame arrived (for `stats.round_trips`).
    pub(crate) frames_out_at_last_in: u64,
    /// The set summary the dialer sent in Hello: both sides compare exactly (Hello set, Welcome
    /// set), so they agree on whether reconciliation runs (HS-RECON-1).
    pub(crate) hello_set: Option<humansync_protocol::SetSummary>,
    /// It is the peer's turn to send a Reconcile (HS-RECON-10).
    pub(crate) expect_recon: bool,
    /// Documents (and `_devices`) changed while this dialled session awaited Welcome: they are
    /// not in the Hello summary and are pushed once the session opens (HS-SYNC-4).
    pub(crate) changed_in_handshake: BTreeSet<DocId>,
    /// The negotiated protocol version (0 until the handshake completes).
    pub(crate) version: u16,
    /// A version-2 resume in progress (HS-RESUME-2); `None` before and after it.
    pub(crate) resume: Option<ResumeProgress>,
    /// Our Resumed (its `complete`), held until the document messages of our answer are sent,
    /// like `final_reply` (HS-RESUME-3).
    pub(crate) held_resumed: Option<bool>,
    /// The position and set of the last Synced sent on this session (HS-RESUME-5).
    pub(crate) synced_sent: Option<(Cursor, SetSummary)>,
    /// No Synced before this instant.
    pub(crate) synced_not_before: Instant,
    /// A Synced waits for this instant.
    pub(crate) synced_due: Option<Instant>,
    /// Range reconciliation follows an incomplete resume and has not received its first
    /// Reconcile yet (HS-RESUME-6).
    pub(crate) after_resume: bool,
    /// That first Reconcile, held until the peer's answer is applied here (HS-RESUME-6).
    pub(crate) deferred_reconcile: Option<Vec<humansync_protocol::RangeEntry>>,
    /// When the handshake completed (for the duplicate-session rule, HS-TRANSPORT-4).
    pub(crate) opened_at: Option<Instant>,
    /// When bytes last arrived (a session silent for long may be dead at the peer's end).
    pub(crate) last_in: Instant,
}

/// The instant a session starts from: its handshake deadline minus the handshake timeout.
fn phase_start(phase: Phase) -> Instant {
    match phase {
        Phase::AwaitWelcome { deadline } | Phase::AwaitHello { deadline } => Instant(
            deadline
                .0
                .saturating_sub(humansync_protocol::limits::HANDSHAKE_TIMEOUT_MS),
        ),
        Phase::Open => Instant(0),
    }
}

impl Session {
    pub(crate) fn new(conn: ConnId, peer: DeviceId, role: Role, phase: Phase) -> Self {
        Session {
            conn,
            peer,
            role,
            phase,
            decoder: FrameDecoder::new(),
            recon: ReconPhase::Pending,
            wanted: BTreeSet::new(),
            syncing: BTreeSet::new(),
            unacked: BTreeMap::new(),
            awaiting_loads: BTreeSet::new(),
            final_reply: None,
            peer_blobs: BTreeSet::new(),
            stats: SessionStats::default(),
            frames_out_at_last_in: 0,
            hello_set: None,
            expect_recon: false,
            changed_in_handshake: BTreeSet::new(),
            version: 0,
            resume: None,
            held_resumed: None,
            synced_sent: None,
            synced_not_before: Instant(0),
            synced_due: None,
            after_resume: false,
            deferred_reconcile: None,
            opened_at: None,
            last_in: phase_start(phase),
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// HS-SYNC-7: reconciliation over and nothing outstanding in either direction, nor waiting
    /// here to be sent.
    pub(crate) fn is_settled(&self) -> bool {
        self.recon == ReconPhase::Done
            && self.resume.is_none()
            && self.held_resumed.is_none()
            && self.deferred_reconcile.is_none()
            && self.final_reply.is_none()
            && self.wanted.is_empty()
            && self.syncing.is_empty()
            && self.unacked.is_empty()
            && self.awaiting_loads.is_empty()
    }
}
