//! The sync engine: one [`Core`] per node, driving every session, document and blob want.
//!
//! # Driving contract (single-mutation invariant)
//! Call exactly one `handle_*` (or an app operation such as [`Core::change`]),
//! then drain [`Core::poll_output`] until it returns `None`, then wait until
//! the next input or [`Core::poll_timeout`]. Every call takes `now`; the core
//! never reads a clock, never touches the network or disk and never draws OS
//! randomness, so the same inputs always give the same outputs.
//!
//! # Shape
//! `Core` owns its parts as fields with their own types — the sessions ([`sessions::Sessions`]
//! of [`session::Session`], each two explicit state machines: `Handshake` and `SyncPhase`), the
//! document cache (`cache::DocCache`), the registry view and gate (`Registry`, `GateView`), the
//! dialer, the blob wants, the change log, quarantine and retention — so a helper can borrow one
//! part while it changes another. Its `impl` is split by concept, one file each:
//!
//! | file             | concept                                                          |
//! |------------------|------------------------------------------------------------------|
//! | `handshake.rs`   | frames in, Hello/Welcome, opening a session (HS-VER-*)           |
//! | `reconcile.rs`   | range reconciliation, held final replies, settling (HS-RECON-*)  |
//! | `resume.rs`      | version-2 resume and Synced (HS-RESUME-*)                         |
//! | `receive.rs`     | an open session's messages, documents received (HS-SYNC-1..3)    |
//! | `push.rs`        | documents sent: whole, changes, sync steps, live push (HS-SYNC-4) |
//! | `held.rs`        | version 3: one cumulative acknowledgement, `Held` (HS-SYNC-14)    |
//! | `send_window.rs` | version 3: bytes sent and not yet held are bounded (HS-SYNC-15)   |
//! | `docs.rs`        | app operations on documents, index, tombstones (HS-DOC-5)         |
//! | `app.rs`         | app requests completed by id (`Output::AppDone`, HS-SYNC-8)       |
//! | `cache.rs`, `load.rs`, `save.rs` | parsed documents, loads, saves                   |
//! | `connections.rs` | admission, dial inputs, closing with a typed reason              |
//! | `devices.rs`     | `_devices`, the registry view and the gate (HS-REG-*, HS-GATE-*)  |
//! | `blobs.rs`, `retain.rs`, `quarantine.rs` | blobs, retention, quarantine (HS-SYNC-13)     |
//! | `status.rs`, `totals.rs` | what the app reads: status, disk counts, totals since start      |
//!
//! A peer's protocol violation is a [`crate::PeerFault`] (its close code in one place); a local
//! fault of an app operation is a [`CoreError`].

mod ancestry;
mod app;
mod append;
mod blobs;
mod bounded_sync;
mod cache;
mod config;
mod connections;
mod devices;
mod dialer;
mod docs;
mod durable;
mod handshake;
mod held;
mod increments;
mod load;
mod log;
mod metas;
mod push;
mod quarantine;
mod receive;
mod reconcile;
mod resave;
mod resume;
mod retain;
mod save;
mod send_window;
mod session;
mod sessions;
mod status;
mod sync_msg;
mod tie_break;
mod totals;

use std::collections::{BTreeMap, VecDeque};

use automerge::{ActorId, Automerge};
use humansync_protocol::{BlobHash, DeviceId, DocDigest, DocId};

use crate::registry::Registry;
use crate::{ConnId, DocMeta, Event, Instant, IoAction, IoResult, IoTask, IoTaskId, Output};

pub use config::{CoreConfig, CoreError, Startup};
pub use dialer::{DialConfig, DialStats};
pub use docs::OpenState;
pub use quarantine::{QuarantineKind, Quarantined};
pub use retain::BlobRetention;
pub use session::SessionStats;
pub use status::{IoCounts, PeerStatus, SyncStatus};
pub use totals::Totals;

use blobs::BlobWants;
use cache::{DocCache, PendingIo};
use sessions::Sessions;

/// The HumanSync sync engine as a pure state machine. See the module docs for the driving contract.
#[derive(Debug)]
pub struct Core {
    config: CoreConfig,
    actor: ActorId,
    registry: Registry,
    metas: metas::Metas,
    cache: DocCache,
    pending_io: BTreeMap<IoTaskId, PendingIo>,
    sessions: Sessions,
    blobs: BlobWants,
    outputs: VecDeque<Output>,
    next_io: u64,
    last_sync: Option<Instant>,
    log: log::ChangeLog,
    /// The admission view, rebuilt whenever the registry changes: the one input of `admit`.
    gate: crate::gate::GateView,
    /// The connection policy (HS-TRANSPORT-4, HS-GATE-5..7).
    dialer: dialer::Dialer,
    /// Documents refused or failed to load (HS-SYNC-13).
    quarantine: quarantine::Quarantine,
    /// Documents stored from a DocWhole without parsing, by the peer that sent them: parsed
    /// before they are forwarded (HS-SYNC-12).
    unverified: BTreeMap<DocId, DeviceId>,
    /// Which held blobs may be released, and when (HS-BLOB-4).
    retention: crate::retention::Retention,
    /// Writes the store refused, asked for again (a full disk, resave.rs).
    resave: resave::Resave,
    /// Documents whose unparsed append the store refused (append.rs).
    refused_appends: append::RefusedAppends,
    /// Writes in flight and the received messages whose `Held` waits for them (durable.rs).
    durable: durable::DurableWaits,
    /// Change bytes saved, to answer a resume without loads (increments.rs).
    increments: increments::Increments,
    /// App requests not answered yet (completed by id, `app.rs`).
    app: app::AppRequests,
    /// Loads issued and saves done since start ([`Core::io_counts`]).
    io_counts: IoCounts,
    /// What the core did since start ([`Core::totals`]).
    totals: Totals,
}

/// Why [`Core::poll_timeout`] asks to be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A handshake deadline (HS-VER-3, HS-VER-5).
    Handshake,
    /// A Synced is due (HS-RESUME-5).
    Synced,
    /// A blob fetch is to be retried (HS-BLOB-2).
    BlobRetry,
    /// A peer is to be dialled again, or a dial's answer is overdue (HS-TRANSPORT-4).
    Dial,
    /// A quarantined document is to be asked for again (HS-SYNC-13).
    Quarantine,
    /// Blob retention is to be brought up to date, or a grace period ends (HS-BLOB-4).
    Retention,
    /// A write the store refused (a full disk) is to be asked for again.
    Resave,
}

impl Core {
    /// Builds a core from its configuration and the runtime's stored state.
    pub fn new(now: Instant, config: CoreConfig, startup: Startup) -> Result<Core, CoreError> {
        let actor = ActorId::from(config.actor.clone());
        let devices_am = match &startup.devices_doc {
            Some(bytes) => crate::untrusted::load(bytes)
                .map_err(|e| CoreError::CorruptRegistry(e.to_string()))?
                .with_actor(actor.clone()),
            None => Automerge::new().with_actor(actor.clone()),
        };
        let mut core = Core {
            registry: Registry::new(config.anchor),
            actor,
            metas: metas::Metas::default(),
            cache: DocCache::new(config.cache_capacity),
            pending_io: BTreeMap::new(),
            sessions: Sessions::default(),
            blobs: BlobWants::new(startup.local_blobs),
            outputs: VecDeque::new(),
            next_io: 0,
            last_sync: None,
            log: log::ChangeLog::new(startup.log_epoch, startup.cursors),
            gate: crate::gate::GateView::unpaired(config.me),
            dialer: dialer::Dialer::new(config.dial),
            quarantine: Default::default(),
            unverified: BTreeMap::new(),
            retention: crate::retention::Retention::new(
                now,
                config.blob_grace_ms,
                startup.pinned_blobs,
                startup.blob_ages,
            ),
            resave: Default::default(),
            refused_appends: Default::default(),
            durable: Default::default(),
            increments: Default::default(),
            app: Default::default(),
            io_counts: IoCounts::default(),
            totals: Totals::default(),
            config,
        };
        if !core.blobs.local.is_empty() {
            core.retention.touch();
        }
        // HS-RECON-6: `_devices` is summarised on its own, never part of the document set.
        let rows: Vec<(DocId, DocMeta)> = startup
            .index
            .into_iter()
            .filter(|(doc, _)| !doc.is_devices())
            .collect();
        for (_, meta) in &rows {
            core.blobs.count_refs(&meta.blobs, true);
        }
        // Built at once (packed nodes; see `Metas::from_rows`).
        core.metas = metas::Metas::from_rows(rows);
        let devices_saved = startup.devices_doc.is_some();
        core.cache
            .insert_pinned(DocId::devices(), devices_am, now, devices_saved);
        core.registry_changed(now, None);
        Ok(core)
    }

    /// This node's device id.
    pub fn me(&self) -> DeviceId {
        self.config.me
    }

    /// The verified registry view (HS-REG-4).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The next output, `None` when drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        let output = self.outputs.pop_front()?;
        self.totals.count(&output);
        Some(output)
    }

    /// What the core did since start: sessions, bytes, exchanges, dials ([`Totals`]).
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// The earliest instant at which [`Core::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.poll_timeout_reason().map(|(at, _)| at)
    }

    /// [`Core::poll_timeout`] with the reason for it (for logs and tests).
    pub fn poll_timeout_reason(&self) -> Option<(Instant, Wake)> {
        let hello = self
            .sessions
            .values()
            .filter_map(|s| s.handshake.deadline().map(|t| (t, Wake::Handshake)));
        let synced = self
            .sessions
            .values()
            .filter_map(|s| s.synced.due.map(|t| (t, Wake::Synced)));
        hello
            .chain(synced)
            .chain(self.blobs.next_retry().map(|t| (t, Wake::BlobRetry)))
            .chain(self.quarantine.next_retry().map(|t| (t, Wake::Quarantine)))
            .chain(self.dialer.next_wake().map(|t| (t, Wake::Dial)))
            .chain(self.retention.next_wake().map(|t| (t, Wake::Retention)))
            .chain(self.resave.next_wake().map(|t| (t, Wake::Resave)))
            .min_by_key(|(t, _)| *t)
    }

    /// Advances timers: handshake deadlines (HS-VER-3, HS-VER-5), blob retries (HS-BLOB-2),
    /// requests for quarantined documents (HS-SYNC-13) and writes the store refused.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired = self.sessions.handshakes_expired(now);
        for conn in expired {
            self.close_session(now, conn, crate::fault::PeerFault::HandshakeTimeout);
        }
        self.blobs_tick(now);
        self.quarantine_tick(now);
        self.retention_tick(now);
        self.resave_tick(now);
        let due = self.sessions.synced_due(now);
        for conn in due {
            self.maybe_send_synced(now, conn);
        }
        self.plan_dials(now);
        self.release_windows(now);
        self.flush_held(now);
    }

    /// Bytes arrived on the session stream of `conn`.
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        self.totals.bytes_in += bytes.len() as u64;
        self.inbound(now, conn, bytes);
        // HS-SYNC-15: what waited for the Helds of this chunk goes out.
        self.release_windows(now);
        // HS-SYNC-14: one Held for the documents of this chunk of frames.
        self.flush_held(now);
    }

    /// Answers an [`IoTask`].
    pub fn handle_io_result(&mut self, now: Instant, id: IoTaskId, result: IoResult) {
        if let Some(pending) = self.pending_io.remove(&id) {
            if matches!(pending, PendingIo::Save(_) | PendingIo::Append(..)) && result == IoResult::Done {
                self.io_counts.saves_done += 1;
            }
            self.app_write_done(id, &result);
            // Counted answered first: what io_done checks (cursors, HS-RESUME-5) sees it done.
            let written = pending.written_doc().cloned();
            if let Some(doc) = &written {
                self.durable.write_answered(doc, id);
            }
            self.io_done(now, pending, result);
            if let Some(doc) = written {
                self.release_if_durable(&doc);
            }
        }
        // HS-SYNC-15: a finished load makes room for sends waiting to start.
        self.release_windows(now);
        self.flush_held(now);
    }

    /// Ids of live documents whose id starts with `prefix`, in order.
    pub fn list(&self, prefix: &str) -> Vec<DocId> {
        self.metas
            .from(prefix)
            .take_while(|(id, _)| id.as_str().starts_with(prefix))
            .filter(|(_, meta)| !meta.tombstone)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The digest the core holds for `doc` (live digest, tombstone, or `None`).
    pub fn digest(&self, doc: &DocId) -> Option<DocDigest> {
        if doc.is_devices() {
            return Some(self.devices_digest());
        }
        self.metas.digest(doc)
    }

    /// The summary of the whole document set, as sent in Hello and Welcome (HS-RECON-1).
    pub fn set_summary(&self) -> humansync_protocol::SetSummary {
        self.metas.summary()
    }

    /// Blobs referenced by live documents and not held locally (HS-BLOB-2).
    pub fn missing_blobs(&self) -> Vec<BlobHash> {
        self.blobs.missing()
    }

    fn pending_loads(&self) -> usize {
        self.pending_io
            .values()
            .filter(|p| matches!(p, PendingIo::Load(_)))
            .count()
    }

    fn next_task(&mut self, action: IoAction, pending: PendingIo) -> IoTaskId {
        let id = IoTaskId(self.next_io);
        self.next_io += 1;
        if matches!(action, IoAction::LoadDoc { .. }) {
            self.io_counts.loads += 1;
        }
        if let Some(doc) = pending.written_doc() {
            self.durable.write_started(doc, id, durable::write_bytes(&action));
        }
        self.pending_io.insert(id, pending);
        self.outputs.push_back(Output::Io(IoTask { id, action }));
        id
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }
}
