//! Documents: the bounded cache of parsed documents, loading, saving, local changes, deletion.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{Automerge, ReadDoc, sync};
use humansync_protocol::digest::heads_digest;
use humansync_protocol::{BlobHash, ChangeHash, DeviceId, DocDigest, DocId, Message};

use super::{Core, CoreError};
use crate::{ConnId, DocMeta, Event, Instant, IoAction, IoResult, IoTaskId, Origin, Output};

/// A parsed document and its per-peer sync states.
#[derive(Debug)]
pub(crate) struct LoadedDoc {
    pub(crate) am: Automerge,
    pub(crate) sync: BTreeMap<DeviceId, sync::State>,
    pub(crate) sync_dirty: BTreeSet<DeviceId>,
    /// Heads of the last save requested (what the store holds once it acknowledges).
    pub(crate) saved_heads: Vec<ChangeHash>,
    /// The store holds some version of the document (so an append is valid).
    pub(crate) stored: bool,
    /// Bytes of the last whole save (or of what the store gave at load).
    pub(crate) snapshot_bytes: usize,
    /// Bytes appended to the stored document since the last whole save.
    pub(crate) appended_bytes: usize,
    /// The blobs the content references, as of `refs_heads` (HS-BLOB-1).
    pub(crate) refs: Vec<BlobHash>,
    /// The heads `refs` was computed at; `None` before the first computation.
    pub(crate) refs_heads: Option<Vec<ChangeHash>>,
    pub(crate) last_used: Instant,
    pub(crate) pinned: bool,
}

impl LoadedDoc {
    /// The sync state with `peer`, created empty if absent.
    pub(crate) fn state(&mut self, peer: DeviceId) -> &mut sync::State {
        self.sync.entry(peer).or_default()
    }

    pub(crate) fn heads(&self) -> Vec<ChangeHash> {
        sorted_heads(&self.am)
    }
}

/// Something waiting for a document to load.
#[derive(Debug)]
pub(crate) enum DocOp {
    /// The app asked to open it.
    Open,
    /// A received DocSync or DocWhole to apply.
    Apply { conn: ConnId, msg: Message },
    /// Send the whole document to this session.
    SendWhole { conn: ConnId },
    /// Start an Automerge sync with this session; `theirs` is the peer's digest of the document
    /// when reconciliation reported it.
    StartSync { conn: ConnId, theirs: Option<DocDigest> },
    /// Send the whole document to this session as sync messages: it cannot go whole
    /// (HS-SYNC-9).
    SyncWhole { conn: ConnId },
    /// Send this session the changes after `after`, heads it holds (HS-RESUME-3).
    SendChanges { conn: ConnId, after: Vec<ChangeHash> },
    /// Index the blobs the document really references (a DocWhole's `blobs` list is only a
    /// claim, HS-BLOB-1).
    IndexBlobs,
}

impl DocOp {
    /// The session the operation sends to, if any.
    fn conn(&self) -> Option<ConnId> {
        match self {
            DocOp::Open | DocOp::IndexBlobs => None,
            DocOp::Apply { conn, .. }
            | DocOp::SendWhole { conn }
            | DocOp::SyncWhole { conn }
            | DocOp::StartSync { conn, .. }
            | DocOp::SendChanges { conn, .. } => Some(*conn),
        }
    }
}

/// What an outstanding I/O task was for.
#[derive(Debug)]
pub(crate) enum PendingIo {
    Load(DocId),
    Save(DocId),
    Delete,
    Fetch { hash: BlobHash, peer: DeviceId },
    Cursors,
    Release(BlobHash),
    Ages,
}

/// Parsed documents, bounded by a capacity, plus loads in progress.
#[derive(Debug)]
pub(crate) struct DocCache {
    docs: BTreeMap<DocId, LoadedDoc>,
    loading: BTreeMap<DocId, Vec<DocOp>>,
    /// Loads wanted but not started because `max_inflight_loads` were in flight.
    queued: std::collections::VecDeque<DocId>,
    capacity: usize,
}

impl DocCache {
    pub(crate) fn new(capacity: usize) -> Self {
        DocCache {
            docs: BTreeMap::new(),
            loading: BTreeMap::new(),
            queued: Default::default(),
            capacity,
        }
    }

    pub(crate) fn insert_pinned(&mut self, doc: DocId, am: Automerge, now: Instant, stored: bool) {
        let mut loaded = new_loaded(am, now, stored);
        loaded.pinned = true;
        self.docs.insert(doc, loaded);
    }

    /// Caches a document that is not stored yet (created from a peer's first sync message).
    pub(crate) fn insert_new(&mut self, doc: DocId, am: Automerge, now: Instant) {
        self.docs.insert(doc, new_loaded(am, now, false));
    }

    pub(crate) fn get(&self, doc: &DocId) -> Option<&LoadedDoc> {
        self.docs.get(doc)
    }

    pub(crate) fn get_mut(&mut self, doc: &DocId) -> Option<&mut LoadedDoc> {
        self.docs.get_mut(doc)
    }

    pub(crate) fn remove(&mut self, doc: &DocId) -> Option<LoadedDoc> {
        self.docs.remove(doc)
    }

    pub(crate) fn len(&self) -> usize {
        self.docs.len()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&DocId, &mut LoadedDoc)> {
        self.docs.iter_mut()
    }

    /// Whether a load is pending whose document's references are not known yet: a received
    /// message waiting to be applied, or a whole document waiting to be indexed (HS-BLOB-4).
    pub(crate) fn refs_pending(&self) -> bool {
        self.loading
            .values()
            .flatten()
            .any(|op| matches!(op, DocOp::Apply { .. } | DocOp::IndexBlobs))
    }
}

fn new_loaded(am: Automerge, now: Instant, stored: bool) -> LoadedDoc {
    let saved_heads = if stored { sorted_heads(&am) } else { Vec::new() };
    LoadedDoc {
        am,
        sync: BTreeMap::new(),
        sync_dirty: BTreeSet::new(),
        saved_heads,
        stored,
        snapshot_bytes: 0,
        appended_bytes: 0,
        refs: Vec::new(),
        refs_heads: None,
        last_used: now,
        pinned: false,
    }
}

/// A document's heads, sorted bytewise.
pub(crate) fn sorted_heads(am: &Automerge) -> Vec<ChangeHash> {
    let mut heads: Vec<ChangeHash> = am.get_heads().iter().map(|h| ChangeHash(h.0)).collect();
    heads.sort_unstable();
    heads
}

/// The digest the reconciliation set holds for an index row (HS-RECON-1).
pub(crate) fn digest_of(meta: &DocMeta) -> DocDigest {
    if meta.tombstone {
        DocDigest::TOMBSTONE
    } else {
        heads_digest(&meta.heads)
    }
}

/// Every blob referenced by a string scalar `hsblob:<hex>` anywhere in the document (HS-BLOB-1).
pub(crate) fn blob_refs(am: &Automerge) -> Vec<BlobHash> {
    let mut refs = BTreeSet::new();
    for item in am.iter() {
        let value = match &item.item {
            automerge::iter::DocItem::Map(m) => &m.value,
            automerge::iter::DocItem::List(l) => &l.value,
            automerge::iter::DocItem::Text(_) => continue,
        };
        if let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(text)) = value
            && let Some(hash) = BlobHash::from_reference(text)
        {
            refs.insert(hash);
        }
    }
    refs.into_iter().collect()
}

/// Whether a document can be opened right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenState {
    /// Loaded: read and change it now.
    Ready,
    /// Loading: wait for [`Event::DocReady`] or [`Event::DocNotFound`].
    Loading,
    /// Not stored locally (and `create` was false).
    NotFound,
}

impl Core {
    /// Opens a document for reading and editing. With `create`, a missing document is created empty
    /// (it is stored and announced to peers with its first change).
    pub fn open(&mut self, now: Instant, doc: &DocId, create: bool) -> Result<OpenState, CoreError> {
        if self.metas.get(doc).is_some_and(|m| m.tombstone) {
            return Err(CoreError::Deleted(doc.clone()));
        }
        if let Some(loaded) = self.cache.get_mut(doc) {
            loaded.last_used = now;
            return Ok(OpenState::Ready);
        }
        if self.metas.contains_key(doc) {
            self.want_loaded(now, doc, DocOp::Open);
            return Ok(OpenState::Loading);
        }
        if self.cache.loading.contains_key(doc) {
            self.want_loaded(now, doc, DocOp::Open);
            return Ok(OpenState::Loading);
        }
        if !create {
            return Ok(OpenState::NotFound);
        }
        let am = Automerge::new().with_actor(self.actor.clone());
        self.cache.docs.insert(doc.clone(), new_loaded(am, now, false));
        self.evict(now);
        Ok(OpenState::Ready)
    }

    /// Read access to a loaded document.
    pub fn doc(&self, doc: &DocId) -> Option<&Automerge> {
        self.cache.get(doc).map(|d| &d.am)
    }

    /// Changes a loaded document with `f` (use `Automerge::transact` inside for rich edits).
    ///
    /// Returns `f`'s result and, if the document changed, the id of the save task: the change is
    /// acknowledged (durable) once the runtime answers that task (HS-SYNC-8). The change is pushed
    /// to every open session at once (HS-SYNC-4).
    pub fn change<R>(
        &mut self,
        now: Instant,
        doc: &DocId,
        f: impl FnOnce(&mut Automerge) -> R,
    ) -> Result<(R, Option<IoTaskId>), CoreError> {
        if doc.is_devices() {
            return Err(CoreError::RegistryDoc);
        }
        if self.metas.get(doc).is_some_and(|m| m.tombstone) {
            return Err(CoreError::Deleted(doc.clone()));
        }
        let loaded = self
            .cache
            .get_mut(doc)
            .ok_or_else(|| CoreError::NotLoaded(doc.clone()))?;
        loaded.last_used = now;
        let before = loaded.heads();
        let out = f(&mut loaded.am);
        if loaded.heads() == before {
            return Ok((out, None));
        }
        self.emit(Event::DocChanged {
            doc: doc.clone(),
            origin: Origin::Local,
        });
        let task = self.doc_updated(now, doc, None);
        Ok((out, task))
    }

    /// Deletes a document for good (HS-DOC-5): a tombstone replaces it locally and on every peer.
    pub fn delete(&mut self, now: Instant, doc: &DocId) -> Result<IoTaskId, CoreError> {
        if doc.is_devices() {
            return Err(CoreError::RegistryDoc);
        }
        let task = self.tombstone(now, doc, Origin::Local);
        let msg = Message::DocDeleted { doc: doc.clone() };
        let conns: Vec<ConnId> = self.open_conns().collect();
        for conn in conns {
            self.send(conn, &msg);
        }
        Ok(task)
    }

    /// Records a tombstone: drops the parsed doc, updates set and index, asks the store to delete.
    pub(crate) fn tombstone(&mut self, now: Instant, doc: &DocId, origin: Origin) -> IoTaskId {
        self.cache.remove(doc);
        self.unverified.remove(doc);
        self.quarantine.clear(doc);
        // Work waiting on the document ends here: peers that asked for it learn it is deleted,
        // and nobody waits for it any more (HS-SYNC-2, HS-DOC-5).
        let waiting = self.cache.loading.remove(doc).unwrap_or_default();
        let waiters = self.release_waiters(doc, &waiting);
        for op in waiting {
            if let DocOp::SendWhole { conn }
            | DocOp::SyncWhole { conn }
            | DocOp::StartSync { conn, .. }
            | DocOp::Apply { conn, .. }
            | DocOp::SendChanges { conn, .. } = op
            {
                self.send(conn, &Message::DocDeleted { doc: doc.clone() });
            }
        }
        for session in self.sessions.values_mut() {
            session.wanted.remove(doc);
            session.syncing.remove(doc);
            session.unacked.remove(doc);
        }
        for conn in waiters {
            self.flush_final_reply(now, conn);
        }
        let was_live = self.metas.get(doc).is_some_and(|m| !m.tombstone);
        self.index_doc(
            doc,
            DocMeta {
                heads: Vec::new(),
                blobs: Vec::new(),
                tombstone: true,
            },
        );
        self.note_handshake_change(doc);
        if was_live || origin == Origin::Local {
            self.emit(Event::DocDeleted {
                doc: doc.clone(),
                origin,
            });
        }
        self.next_task(IoAction::DeleteDoc { doc: doc.clone() }, PendingIo::Delete)
    }

    /// After a loaded document's content changed (locally or from `from`): index, save, push.
    pub(crate) fn doc_updated(
        &mut self,
        now: Instant,
        doc: &DocId,
        from: Option<ConnId>,
    ) -> Option<IoTaskId> {
        let task = self.save(now, doc);
        self.note_handshake_change(doc);
        // HS-RECON-6: a change of `_devices` never enters the document set.
        if doc.is_devices() {
            return task;
        }
        if let Some(loaded) = self.cache.get_mut(doc) {
            let heads = loaded.heads();
            let blobs = loaded.blob_refs_now(None);
            let meta = DocMeta {
                heads,
                blobs,
                tombstone: false,
            };
            self.index_doc(doc, meta);
        }
        self.announce_wants();
        let conns: Vec<ConnId> = self.open_conns().filter(|c| Some(*c) != from).collect();
        for conn in conns {
            self.push_doc(now, conn, doc);
        }
        task
    }

    /// Sets a document's index row and set digest, logging a digest change (HS-RESUME-1).
    pub(crate) fn index_doc(&mut self, doc: &DocId, meta: DocMeta) {
        let digest = digest_of(&meta);
        if self.set.get(doc) != Some(digest) {
            let old = self
                .metas
                .get(doc)
                .filter(|m| !m.tombstone)
                .map(|m| m.heads.as_slice());
            self.log.record(doc, old);
        }
        self.set.insert(doc.clone(), digest);
        // HS-BLOB-4: reference counts follow the index rows of live documents.
        let added = self.blobs.count_refs(&meta.blobs, true);
        let old = self.metas.insert(doc.clone(), meta);
        let removed = old.is_some_and(|old| self.blobs.count_refs(&old.blobs, false));
        if added || removed {
            self.retention.touch();
        }
    }

    /// Makes sure `doc` gets loaded, then runs `op` on it.
    pub(crate) fn want_loaded(&mut self, now: Instant, doc: &DocId, op: DocOp) {
        if self.cache.get(doc).is_some() {
            self.run_op(now, doc, op);
            return;
        }
        if let Some(session) = op.conn().and_then(|conn| self.sessions.get_mut(&conn)) {
            session.awaiting_loads.insert(doc.clone());
        }
        let first = !self.cache.loading.contains_key(doc);
        self.cache.loading.entry(doc.clone()).or_default().push(op);
        if first {
            self.cache.queued.push_back(doc.clone());
            self.start_loads();
        }
    }

    fn start_loads(&mut self) {
        let inflight = self
            .pending_io
            .values()
            .filter(|p| matches!(p, PendingIo::Load(_)))
            .count();
        let mut free = self.config.max_inflight_loads.saturating_sub(inflight);
        while free > 0 {
            let Some(doc) = self.cache.queued.pop_front() else {
                break;
            };
            if !self.cache.loading.contains_key(&doc) {
                continue;
            }
            self.next_task(IoAction::LoadDoc { doc: doc.clone() }, PendingIo::Load(doc));
            free -= 1;
        }
    }

    /// Routes a finished I/O task.
    pub(crate) fn io_done(&mut self, now: Instant, pending: PendingIo, result: IoResult) {
        match pending {
            PendingIo::Load(doc) => {
                self.load_done(now, &doc, result);
                self.start_loads();
            }
            PendingIo::Save(doc) => {
                if let IoResult::Failed { .. } = result {
                    // The store may hold less than we thought: rewrite it whole next time.
                    if let Some(loaded) = self.cache.get_mut(&doc) {
                        loaded.stored = false;
                        loaded.saved_heads.clear();
                    }
                }
                self.evict(now);
                self.accept_parked_cursors();
            }
            PendingIo::Delete => self.accept_parked_cursors(),
            PendingIo::Cursors => {}
            PendingIo::Fetch { hash, peer } => self.fetch_done(now, hash, peer, result),
            PendingIo::Release(hash) => self.release_done(hash, &result),
            PendingIo::Ages => {}
        }
    }

    fn load_done(&mut self, now: Instant, doc: &DocId, result: IoResult) {
        let ops = self.cache.loading.remove(doc).unwrap_or_default();
        let waiters = self.release_waiters(doc, &ops);
        self.run_loaded(now, doc, ops, result);
        for conn in waiters {
            self.flush_final_reply(now, conn);
        }
    }

    /// The sessions that waited on `doc` for `ops`, which no longer wait on it.
    fn release_waiters(&mut self, doc: &DocId, ops: &[DocOp]) -> BTreeSet<ConnId> {
        let conns: BTreeSet<ConnId> = ops.iter().filter_map(DocOp::conn).collect();
        for conn in &conns {
            if let Some(session) = self.sessions.get_mut(conn) {
                session.awaiting_loads.remove(doc);
            }
        }
        conns
    }

    /// Runs the operations that waited on a load, with its result.
    fn run_loaded(&mut self, now: Instant, doc: &DocId, ops: Vec<DocOp>, result: IoResult) {
        if ops.is_empty() {
            return;
        }
        let (bytes, states) = match result {
            IoResult::Loaded { bytes, sync_states } => (bytes, sync_states),
            IoResult::NotFound | IoResult::Done | IoResult::Failed { .. } => {
                self.load_failed(now, doc, ops, "not found in the store".to_owned());
                return;
            }
        };
        // Whole-document sends need no parse: forward the stored bytes (HS-SYNC-1). Bytes that
        // came from a peer and were never parsed here are loaded once first, and never leave if
        // they do not load (HS-SYNC-12); the parse is only a check, the cache is left as it was.
        // A document too large to go whole is parsed and synced instead (HS-SYNC-9).
        if bytes.len() <= self.doc_limit()
            && ops
                .iter()
                .all(|op| matches!(op, DocOp::SendWhole { .. } | DocOp::IndexBlobs))
        {
            let index = ops.iter().any(|op| matches!(op, DocOp::IndexBlobs));
            if self.unverified.contains_key(doc) || index {
                let am = match crate::untrusted::load(&bytes) {
                    Ok(am) => am,
                    Err(e) => {
                        self.load_failed(now, doc, ops, e.to_string());
                        return;
                    }
                };
                self.unverified.remove(doc);
                self.quarantine.clear(doc);
                self.index_blobs(doc, &am);
            }
            for op in ops {
                if let DocOp::SendWhole { conn } = op {
                    self.send_whole_bytes(now, conn, doc, bytes.clone());
                }
            }
            return;
        }
        let am = match crate::untrusted::load(&bytes) {
            Ok(am) => am.with_actor(self.actor.clone()),
            Err(e) => {
                self.load_failed(now, doc, ops, e.to_string());
                return;
            }
        };
        self.unverified.remove(doc);
        self.quarantine.clear(doc);
        let mut loaded = new_loaded(am, now, true);
        loaded.snapshot_bytes = bytes.len();
        for (peer, state) in states {
            if let Ok(state) = sync::State::decode(&state) {
                loaded.sync.insert(peer, state);
            }
        }
        let heads = loaded.heads();
        self.cache.docs.insert(doc.clone(), loaded);
        // HS-SYNC-1: heads trusted from a DocWhole are checked now; a mismatch re-indexes.
        if self.metas.get(doc).map(|m| &m.heads) != Some(&heads) {
            self.doc_updated(now, doc, None);
        }
        for op in ops {
            self.run_op(now, doc, op);
        }
        self.evict(now);
    }

    /// A stored document is missing or corrupt: report it, forget it, quarantine it and recover
    /// it later from other peers than the one that supplied it (HS-SYNC-13).
    fn load_failed(&mut self, now: Instant, doc: &DocId, ops: Vec<DocOp>, reason: String) {
        let digest = self.metas.get(doc).map(digest_of);
        let supplier = self.unverified.remove(doc);
        self.quarantine.record(
            now,
            doc,
            super::QuarantineKind::LoadFailed,
            supplier,
            digest,
            &reason,
        );
        self.emit(Event::DocCorrupt {
            doc: doc.clone(),
            reason,
        });
        if let Some(old) = self.metas.remove(doc)
            && self.blobs.count_refs(&old.blobs, false)
        {
            self.retention.touch();
        }
        self.set.remove(doc);
        self.forget_cursors();
        for op in ops {
            match op {
                DocOp::Open => self.emit(Event::DocNotFound(doc.clone())),
                DocOp::Apply { conn, msg } => self.apply_received(now, conn, msg),
                DocOp::SendWhole { conn } => self.send(conn, &Message::DocMissing { doc: doc.clone() }),
                DocOp::SyncWhole { conn } => self.send(conn, &Message::DocMissing { doc: doc.clone() }),
                DocOp::StartSync { .. } | DocOp::SendChanges { .. } | DocOp::IndexBlobs => {}
            }
        }
    }

    fn run_op(&mut self, now: Instant, doc: &DocId, op: DocOp) {
        match op {
            DocOp::Open => self.emit(Event::DocReady(doc.clone())),
            DocOp::Apply { conn, msg } => self.apply_received(now, conn, msg),
            DocOp::SendWhole { conn } => self.send_whole_loaded(now, conn, doc),
            DocOp::SyncWhole { conn } => self.sync_whole(now, conn, doc),
            DocOp::StartSync { conn, theirs } => self.start_sync(now, conn, doc, theirs),
            DocOp::SendChanges { conn, after } => self.send_changes_loaded(now, conn, doc, &after),
            DocOp::IndexBlobs => {
                if let Some(loaded) = self.cache.get(doc) {
                    let am = loaded.am.clone();
                    self.index_blobs(doc, &am);
                }
            }
        }
    }

    /// Sets a document's indexed blobs to those its content references, and wants the missing
    /// ones (HS-BLOB-1, HS-BLOB-2).
    fn index_blobs(&mut self, doc: &DocId, am: &Automerge) {
        let refs = blob_refs(am);
        let Some(meta) = self.metas.get(doc).filter(|m| !m.tombstone && m.blobs != refs) else {
            return;
        };
        let meta = DocMeta {
            blobs: refs,
            ..meta.clone()
        };
        self.index_doc(doc, meta.clone());
        self.announce_wants();
        // The index row is durable state: a restart must still want these blobs.
        let action = IoAction::SaveDoc {
            doc: doc.clone(),
            write: None,
            meta,
            sync_states: Vec::new(),
        };
        self.next_task(action, PendingIo::Save(doc.clone()));
    }

    /// Evicts clean, unpinned, idle documents beyond the cache capacity (least recently used first).
    pub(crate) fn evict(&mut self, now: Instant) {
        let _ = now;
        if self.cache.len() <= self.cache.capacity {
            return;
        }
        let busy: BTreeSet<DocId> = self
            .sessions
            .values()
            .flat_map(|s| s.syncing.iter().cloned())
            .collect();
        let mut candidates: Vec<(Instant, DocId)> = self
            .cache
            .docs
            .iter()
            .filter(|(id, d)| !d.pinned && d.stored && d.saved_heads == d.heads() && !busy.contains(*id))
            .map(|(id, d)| (d.last_used, id.clone()))
            .collect();
        candidates.sort();
        let excess = self.cache.len() - self.cache.capacity;
        for (_, doc) in candidates.into_iter().take(excess) {
            if self.cache.get(&doc).is_some_and(|d| !d.sync_dirty.is_empty()) {
                self.save(now, &doc);
            }
            self.cache.remove(&doc);
        }
    }

    pub(crate) fn open_conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.sessions.values().filter(|s| s.is_open()).map(|s| s.conn)
    }

    /// Queue a DocWhole for the session from a loaded document.
    fn send_whole_loaded(&mut self, now: Instant, conn: ConnId, doc: &DocId) {
        let Some(loaded) = self.cache.get(doc) else { return };
        let bytes = loaded.am.save();
        self.send_whole_bytes(now, conn, doc, bytes);
    }

    pub(crate) fn drop_outputs_for(&mut self, conns: &BTreeSet<ConnId>) {
        self.outputs
            .retain(|o| !matches!(o, Output::Transmit { conn, .. } if conns.contains(conn)));
    }
}
