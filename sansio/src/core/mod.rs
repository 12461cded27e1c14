//! The sync engine: one [`Core`] per node, driving every session, document and blob want.
//!
//! # Driving contract (single-mutation invariant)
//! Call exactly one `handle_*` (or an app operation such as [`Core::change`]),
//! then drain [`Core::poll_output`] until it returns `None`, then wait until
//! the next input or [`Core::poll_timeout`]. Every call takes `now`; the core
//! never reads a clock, never touches the network or disk and never draws OS
//! randomness, so the same inputs always give the same outputs.

mod ancestry;
mod blobs;
mod bounded_sync;
mod devices;
mod dialer;
mod docs;
mod inbound;
mod log;
mod push;
mod quarantine;
mod resume;
mod retain;
mod save;
mod session;
mod status;
mod sync_msg;
mod tie_break;

use std::collections::{BTreeMap, VecDeque};

use automerge::{ActorId, Automerge};
use humansync_protocol::{BlobHash, CloseCode, DeviceId, DocDigest, DocId, SignedRecord};

use crate::recon::DocSet;
use crate::registry::Registry;
use crate::{ConnId, DocMeta, Event, Instant, IoAction, IoResult, IoTask, IoTaskId, Output, Role};

pub use dialer::{DialConfig, DialStats};
pub use docs::OpenState;
pub use quarantine::{QuarantineKind, Quarantined};
pub use retain::BlobRetention;
pub use session::SessionStats;
pub use status::{PeerStatus, SyncStatus};

use blobs::BlobWants;
use docs::{DocCache, PendingIo};
use session::Session;

/// Static configuration of a [`Core`].
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This node's device id.
    pub me: DeviceId,
    /// Automerge actor id for local changes. MUST be unique per process lifetime (for example the
    /// device id's first 16 bytes followed by a random or incrementing start counter), so that a
    /// crash can never make two different changes with the same (actor, seq).
    pub actor: Vec<u8>,
    /// The registry anchor (the server's id), once paired (HS-ID-3).
    pub anchor: Option<DeviceId>,
    /// Most parsed documents kept in memory; clean idle ones beyond it are evicted.
    pub cache_capacity: usize,
    /// Most LoadDoc tasks in flight at once, to bound memory during bulk transfers.
    pub max_inflight_loads: usize,
    /// Protocol versions offered and accepted, ascending (HS-VER-1); default: all supported.
    pub versions: Vec<u16>,
    /// Timing of the connection policy (who is dialled when, HS-TRANSPORT-4).
    pub dial: DialConfig,
    /// The largest document payload sent in one message (a DocWhole's or DocChanges' bytes, a
    /// DocSync's sync message). Default and upper bound `MAX_DOC_BYTES`, the wire bound; a lower
    /// value only makes the fallback of HS-SYNC-9 (bounded DocSync instead of a whole document)
    /// start earlier, which lets tests exercise it without 16 MiB documents.
    pub max_doc_bytes: usize,
    /// Grace period of blob retention (HS-BLOB-4): a held blob no live document references and
    /// the app has not pinned is released this many milliseconds after it became unreferenced.
    pub blob_grace_ms: u64,
}

impl CoreConfig {
    /// A configuration with default cache sizes.
    pub fn new(me: DeviceId, actor: Vec<u8>, anchor: Option<DeviceId>) -> Self {
        CoreConfig {
            me,
            actor,
            anchor,
            cache_capacity: 256,
            max_inflight_loads: 64,
            versions: humansync_protocol::SUPPORTED_VERSIONS.to_vec(),
            dial: DialConfig::default(),
            max_doc_bytes: humansync_protocol::limits::MAX_DOC_BYTES,
            blob_grace_ms: humansync_protocol::limits::BLOB_GRACE_DEFAULT_MS,
        }
    }
}

/// What the runtime hands the core at start-up: its index and local state.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// Every stored document's index row (excluding `_devices`).
    pub index: Vec<(DocId, DocMeta)>,
    /// Saved bytes of the `_devices` document, if stored.
    pub devices_doc: Option<Vec<u8>>,
    /// Blobs held complete locally.
    pub local_blobs: Vec<BlobHash>,
    /// This run's change-log epoch (HS-RESUME-1): random and different at every start. 0 turns
    /// resuming off (every Resume is answered incomplete and no Synced is sent).
    pub log_epoch: u64,
    /// The persisted cursors into peers' logs (the last [`IoAction::SaveCursors`] that completed).
    /// Leave empty if any stored document was lost since they were saved.
    pub cursors: Vec<(DeviceId, humansync_protocol::Cursor)>,
    /// Blobs the app pinned (HS-BLOB-4): never released while pinned.
    pub pinned_blobs: Vec<BlobHash>,
    /// The persisted ages of unreferenced blobs (the last [`IoAction::SaveBlobAges`] that
    /// completed), each increased by the time the node was down (HS-BLOB-4).
    pub blob_ages: Vec<(BlobHash, u64)>,
}

/// Errors of app operations on the core (local faults, never peer faults).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The document is not loaded: call [`Core::open`] and wait for [`Event::DocReady`].
    #[error("document {0} is not loaded")]
    NotLoaded(DocId),
    /// The document was deleted and its id is retired (HS-DOC-5).
    #[error("document {0} was deleted")]
    Deleted(DocId),
    /// `_devices` is only changed through registry records (HS-REG-5, HS-REG-7).
    #[error("the registry document cannot be edited or deleted directly")]
    RegistryDoc,
    /// A registry record did not verify.
    #[error("registry record rejected: {0}")]
    Record(String),
    /// The `_devices` bytes given at start-up do not load.
    #[error("stored registry document is corrupt: {0}")]
    CorruptRegistry(String),
}

/// The HumanSync sync engine as a pure state machine. See the module docs for the driving contract.
#[derive(Debug)]
pub struct Core {
    config: CoreConfig,
    actor: ActorId,
    registry: Registry,
    set: DocSet,
    metas: BTreeMap<DocId, DocMeta>,
    cache: DocCache,
    pending_io: BTreeMap<IoTaskId, PendingIo>,
    sessions: BTreeMap<ConnId, Session>,
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
            set: DocSet::new(),
            metas: BTreeMap::new(),
            cache: DocCache::new(config.cache_capacity),
            pending_io: BTreeMap::new(),
            sessions: BTreeMap::new(),
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
            config,
        };
        if !core.blobs.local.is_empty() {
            core.retention.touch();
        }
        for (doc, meta) in startup.index {
            // HS-RECON-6: `_devices` is summarised on its own, never part of the document set.
            if doc.is_devices() {
                continue;
            }
            core.blobs.count_refs(&meta.blobs, true);
            core.set.insert(doc.clone(), docs::digest_of(&meta));
            core.metas.insert(doc, meta);
        }
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
        self.outputs.pop_front()
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
            .min_by_key(|(t, _)| *t)
    }

    /// Advances timers: handshake deadlines (HS-VER-3, HS-VER-5), blob retries (HS-BLOB-2) and
    /// requests for quarantined documents (HS-SYNC-13).
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<ConnId> = self
            .sessions
            .values()
            .filter(|s| s.handshake.deadline().is_some_and(|deadline| deadline <= now))
            .map(|s| s.conn)
            .collect();
        for conn in expired {
            self.close_session(now, conn, crate::fault::PeerFault::HandshakeTimeout);
        }
        self.blobs_tick(now);
        self.quarantine_tick(now);
        self.retention_tick(now);
        let due: Vec<ConnId> = self
            .sessions
            .values()
            .filter(|s| s.synced.due.is_some_and(|at| at <= now))
            .map(|s| s.conn)
            .collect();
        for conn in due {
            self.maybe_send_synced(now, conn);
        }
        self.plan_dials(now);
    }

    /// A transport connection with `peer` finished its TLS handshake. Returns whether it is admitted;
    /// when it is not, the runtime MUST close it with the code and process nothing from it (HS-GATE-3).
    pub fn handle_connection(
        &mut self,
        now: Instant,
        conn: ConnId,
        peer: DeviceId,
        role: Role,
    ) -> crate::gate::Admission {
        let admission = self.admission(&peer);
        if admission != crate::gate::Admission::Admit {
            if role == Role::Dialer {
                // Our own gate refused what we dialled (the registry changed meanwhile).
                self.dialer.dial_failed(now, &self.gate, peer);
            }
            return admission;
        }
        self.dialer.session_started(peer, role == Role::Dialer);
        let session = Session::new(conn, peer, role, now, self.set.summary());
        self.sessions.insert(conn, session);
        if role == Role::Dialer {
            let hello = humansync_protocol::Message::Hello {
                versions: self.config.versions.clone(),
                set: self.set.summary(),
                devices: self.devices_digest(),
            };
            self.send(conn, &hello);
        }
        self.plan_dials(now);
        admission
    }

    /// A dial this core asked for ([`Output::Dial`]) failed before any session started: no
    /// route, a timeout, or the peer's gate refused us during the handshake (HS-GATE-7). The
    /// peer is dialled again after a growing delay.
    pub fn handle_dial_failed(&mut self, now: Instant, peer: DeviceId) {
        self.dialer.dial_failed(now, &self.gate, peer);
        self.plan_dials(now);
    }

    /// The runtime learned a new address for `peer` (pairing, GET /devices, mDNS): if it is a
    /// peer to dial, it is dialled at once instead of after its backoff.
    ///
    /// A session with `peer` that has received nothing for [`tie_break::DUPLICATE_RACE_MS`] may be
    /// dead at the peer's end (it restarted and nothing told us): it is replaced by a new dial,
    /// and the tie-break keeps the newer session (HS-TRANSPORT-4).
    pub fn handle_peer_seen(&mut self, now: Instant, peer: DeviceId) {
        let silent = |s: &Session| s.is_open() && now.ms_since(s.last_in) >= tie_break::DUPLICATE_RACE_MS;
        let sessions: Vec<&Session> = self.sessions.values().filter(|s| s.peer == peer).collect();
        let stale = !sessions.is_empty() && sessions.iter().all(|s| silent(s));
        self.dialer.peer_seen(now, peer, stale);
        self.plan_dials(now);
    }

    /// The admission view every gate of this node decides with (HS-GATE-2, HS-GATE-5).
    pub fn gate(&self) -> &crate::gate::GateView {
        &self.gate
    }

    /// Counters of the connection policy.
    pub fn dial_stats(&self) -> DialStats {
        self.dialer.stats()
    }

    /// Asks for a dial of every admitted peer that has no session and whose time has come.
    pub(crate) fn plan_dials(&mut self, now: Instant) {
        let sessions = &self.sessions;
        self.dialer.plan(
            now,
            &self.gate,
            |peer| sessions.values().any(|s| s.peer == *peer),
            &mut self.outputs,
        );
    }

    /// Bytes arrived on the session stream of `conn`.
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        self.inbound(now, conn, bytes);
    }

    /// The transport connection closed (by the peer, the network or us).
    pub fn handle_connection_closed(&mut self, now: Instant, conn: ConnId, code: CloseCode) {
        if let Some(session) = self.sessions.remove(&conn) {
            // The transport is gone: nothing queued for it can be sent any more.
            self.drop_outputs_for(&std::collections::BTreeSet::from([conn]));
            self.session_ended(now, session, code);
        }
    }

    /// Closes a session on behalf of the app or runtime (for example at shutdown).
    pub fn close(&mut self, now: Instant, conn: ConnId, code: CloseCode) {
        self.close_session(now, conn, crate::fault::Closing::Local(code));
    }

    /// Answers an [`IoTask`].
    pub fn handle_io_result(&mut self, now: Instant, id: IoTaskId, result: IoResult) {
        if let Some(pending) = self.pending_io.remove(&id) {
            self.io_done(now, pending, result);
        }
    }

    /// Sets the registry anchor after pairing (HS-PAIR-6).
    pub fn set_anchor(&mut self, now: Instant, anchor: DeviceId) -> Result<(), CoreError> {
        self.registry
            .set_anchor(anchor)
            .map_err(|e| CoreError::Record(e.to_string()))?;
        self.config.anchor = Some(anchor);
        self.registry_changed(now, None);
        Ok(())
    }

    /// Adds a signed registry record (the anchor after signing one, or a device after pairing) to
    /// the registry and to `_devices`, and pushes it to every session (HS-REG-6).
    pub fn add_registry_record(&mut self, now: Instant, record: &SignedRecord) -> Result<(), CoreError> {
        let change = self
            .registry
            .insert(record)
            .map_err(|e| CoreError::Record(e.to_string()))?;
        // The view has the record now, so re-reading `_devices` finds no change: report it here.
        match change {
            Some(crate::registry::RegistryChange::Added(device)) => self.emit(Event::DeviceAdded(device)),
            Some(crate::registry::RegistryChange::Revoked(device)) => self.emit(Event::DeviceRevoked(device)),
            None => {}
        }
        let changed = self
            .cache
            .get_mut(&DocId::devices())
            .map(|d| crate::registry::put_record(&mut d.am, record))
            .unwrap_or(false);
        if changed {
            self.devices_doc_changed(now, None);
        } else {
            self.registry_changed(now, None);
        }
        Ok(())
    }

    /// The gate's decision for `peer` right now (HS-GATE-2, HS-GATE-5).
    pub fn admission_of(&self, peer: &DeviceId) -> crate::gate::Admission {
        self.admission(peer)
    }

    /// Test hook: lets a simulated malicious device rewrite its own `_devices` copy (forge records,
    /// delete keys) and push the result to its peers, as a modified client could.
    #[cfg(feature = "testing")]
    pub fn tamper_devices_doc(&mut self, now: Instant, f: impl FnOnce(&mut Automerge)) {
        if let Some(loaded) = self.cache.get_mut(&DocId::devices()) {
            f(&mut loaded.am);
            self.save(now, &DocId::devices());
            let conns: Vec<ConnId> = self.open_conns().collect();
            for conn in conns {
                self.sync_step(now, conn, &DocId::devices());
            }
        }
    }

    /// Ids of live documents whose id starts with `prefix`, in order.
    pub fn list(&self, prefix: &str) -> Vec<DocId> {
        self.metas
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
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
        self.set.get(doc)
    }

    /// The summary of the whole document set, as sent in Hello and Welcome (HS-RECON-1).
    pub fn set_summary(&self) -> humansync_protocol::SetSummary {
        self.set.summary()
    }

    /// Blobs referenced by live documents and not held locally (HS-BLOB-2).
    pub fn missing_blobs(&self) -> Vec<BlobHash> {
        self.blobs.missing()
    }

    /// Remembers a change for every dialled session still awaiting Welcome (see
    /// `Handshake::AwaitWelcome`).
    pub(crate) fn note_handshake_change(&mut self, doc: &DocId) {
        for session in self.sessions.values_mut() {
            if let session::Handshake::AwaitWelcome { changed, .. } = &mut session.handshake {
                changed.insert(doc.clone());
            }
        }
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
        self.pending_io.insert(id, pending);
        self.outputs.push_back(Output::Io(IoTask { id, action }));
        id
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }
}
