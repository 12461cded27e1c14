//! Loading documents: operations wait for a load (bounded by `max_inflight_loads`), run once it
//! is done, and fail into quarantine when stored bytes do not load (HS-SYNC-12, HS-SYNC-13).

use std::collections::BTreeSet;

use automerge::{Automerge, sync};
use humansync_protocol::{DocId, Message};

use super::Core;
use super::cache::{DocOp, PendingIo, blob_refs, new_loaded};
use super::send_window::Waiting;
use crate::{ConnId, DocMeta, Event, Instant, IoAction, IoResult};

impl Core {
    /// Makes sure `doc` gets loaded, then runs `op` on it. A DocWhole or DocChanges to send
    /// waits for room in the session's window first (HS-SYNC-15).
    pub(crate) fn want_loaded(&mut self, now: Instant, doc: &DocId, op: DocOp) {
        let admitted = match &op {
            DocOp::SendWhole { conn } => self.window_admits(*conn, doc, Waiting::Whole),
            DocOp::SendChanges { conn, after } => {
                self.window_admits(*conn, doc, Waiting::ChangesAfter(after.clone()))
            }
            _ => true,
        };
        if !admitted {
            return;
        }
        if self.cache.get(doc).is_some() {
            self.run_op(now, doc, op);
            return;
        }
        if let Some(session) = op.conn().and_then(|conn| self.sessions.get_mut(&conn)) {
            session.awaiting_loads.insert(doc.clone());
        }
        let first = !self.cache.loading.contains_key(doc);
        if first && self.resave.holds_whole(doc) {
            // Its write was refused (a full disk): answered from the kept bytes (load_done).
            self.cache.loading.insert(doc.clone(), vec![op]);
            self.load_done(now, doc, IoResult::NotFound);
            return;
        }
        self.cache.loading.entry(doc.clone()).or_default().push(op);
        if first {
            self.cache.queued.push_back(doc.clone());
            self.start_loads();
        }
    }

    pub(crate) fn start_loads(&mut self) {
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
                    // The store may hold less than we thought: rewrite it whole, by itself
                    // (resave.rs).
                    if let Some(loaded) = self.cache.get_mut(&doc) {
                        loaded.stored = false;
                        loaded.saved_heads.clear();
                    }
                    self.resave.save_failed(now, &doc);
                } else if self.cache.get(&doc).is_none_or(|d| d.stored) {
                    // (A save of the index row alone leaves a refused content save due.)
                    self.resave.written(now, &doc);
                    if self.cache.get(&doc).is_some() {
                        // Saved from the cache, refused appends merged (append.rs).
                        self.refused_appends.remove(&doc);
                    }
                }
                self.evict(now);
                self.accept_parked_cursors();
            }
            PendingIo::SaveWhole(doc, action) => {
                if let IoResult::Failed { .. } = result {
                    self.resave.whole_failed(now, doc, *action);
                } else {
                    self.resave.written(now, &doc);
                }
                self.evict(now);
                self.accept_parked_cursors();
            }
            PendingIo::Append(doc, bytes) => {
                if let IoResult::Failed { .. } = result {
                    self.append_refused(now, doc, bytes);
                }
                self.accept_parked_cursors();
            }
            PendingIo::Delete(doc) => {
                if let IoResult::Failed { .. } = result {
                    self.resave.delete_failed(now, &doc);
                } else {
                    self.resave.written(now, &doc);
                }
                self.accept_parked_cursors();
            }
            PendingIo::Cursors => {}
            PendingIo::Fetch { hash, peer } => self.fetch_done(now, hash, peer, result),
            PendingIo::Release(hash) => self.release_done(hash, &result),
            PendingIo::Ages => {}
        }
    }

    pub(crate) fn load_done(&mut self, now: Instant, doc: &DocId, result: IoResult) {
        let ops = self.cache.loading.remove(doc).unwrap_or_default();
        let waiters = self.release_waiters(doc, &ops);
        // A whole document whose write the store refused (a full disk) is newer than whatever
        // the store gave: its kept bytes are loaded instead, never taken for a corrupt file.
        let kept = self.resave.whole_bytes(doc);
        let from_kept = kept.is_some();
        let result = match kept {
            Some(bytes) => IoResult::Loaded {
                bytes,
                sync_states: Vec::new(),
            },
            None => result,
        };
        self.run_loaded(now, doc, ops, result);
        if from_kept && let Some(loaded) = self.cache.get_mut(doc) {
            // Saved from the cache from now on (resave.rs).
            loaded.stored = false;
            loaded.saved_heads.clear();
        }
        for conn in waiters {
            self.flush_final_reply(now, conn);
        }
    }

    /// The sessions that waited on `doc` for `ops`, which no longer wait on it.
    pub(crate) fn release_waiters(&mut self, doc: &DocId, ops: &[DocOp]) -> BTreeSet<ConnId> {
        let conns: BTreeSet<ConnId> = ops.iter().filter_map(DocOp::conn).collect();
        for conn in &conns {
            if let Some(session) = self.sessions.get_mut(conn) {
                session.awaiting_loads.remove(doc);
            }
        }
        conns
    }

    /// Runs the operations that waited on a load, with its result.
    pub(crate) fn run_loaded(&mut self, now: Instant, doc: &DocId, ops: Vec<DocOp>, result: IoResult) {
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
        // Stored bytes with changes Automerge refuses (appended unparsed, append.rs) never leave
        // as they are: the document is parsed and rewritten below first.
        if bytes.len() <= self.doc_limit()
            && ops
                .iter()
                .all(|op| matches!(op, DocOp::SendWhole { .. } | DocOp::IndexBlobs))
        {
            let index = ops.iter().any(|op| matches!(op, DocOp::IndexBlobs));
            let mut clean = true;
            if self.unverified.contains_key(doc) || index {
                self.io_counts.parses += 1;
                let am = match crate::untrusted::load_salvaging(&bytes) {
                    Ok((am, 0)) => am,
                    Ok(_) => {
                        clean = false;
                        Automerge::new()
                    }
                    Err(e) => {
                        self.load_failed(now, doc, ops, e.to_string());
                        return;
                    }
                };
                if clean {
                    self.unverified.remove(doc);
                    self.quarantine.clear(doc);
                    self.index_blobs(doc, &am);
                }
            }
            if clean {
                for op in ops {
                    if let DocOp::SendWhole { conn } = op {
                        self.send_whole_bytes(now, conn, doc, bytes.clone());
                    }
                }
                return;
            }
        }
        self.io_counts.parses += 1;
        // Changes appended unparsed that Automerge refuses cost only themselves (append.rs).
        let (am, dropped) = match crate::untrusted::load_salvaging(&bytes) {
            Ok((am, dropped)) => (am.with_actor(self.actor.clone()), dropped),
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
        if dropped > 0 {
            // The stored bytes hold changes that never apply: rewritten whole without them.
            // What was acknowledged of a peer's log may be among them (HS-RESUME-5).
            loaded.stored = false;
            loaded.saved_heads.clear();
            self.emit(Event::ChangesDropped {
                doc: doc.clone(),
                changes: dropped,
            });
            self.forget_cursors();
        }
        let heads = loaded.heads();
        self.cache.docs.insert(doc.clone(), loaded);
        // HS-SYNC-1: heads trusted from a DocWhole are checked now; a mismatch re-indexes.
        if self.metas.get(doc).map(|m| &m.heads[..]) != Some(&heads[..]) {
            self.doc_updated(now, doc, None);
        } else if dropped > 0 {
            self.save(now, doc);
        }
        for op in ops {
            self.run_op(now, doc, op);
        }
        self.evict(now);
    }

    /// A stored document is missing or corrupt: report it, forget it, quarantine it and recover
    /// it later from other peers than the one that supplied it (HS-SYNC-13).
    pub(crate) fn load_failed(&mut self, now: Instant, doc: &DocId, ops: Vec<DocOp>, reason: String) {
        let digest = self.metas.digest(doc);
        let supplier = self.unverified.remove(doc);
        self.increments.forget(doc);
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
        self.forget_cursors();
        for op in ops {
            match op {
                DocOp::Open => {}
                // As if asked now: refused, the document is being recovered (HS-SYNC-13).
                DocOp::App(id) => self.run_app(now, id),
                // The document is gone: the message is dropped, not taken (HS-SYNC-14). A
                // DocSync is still answered from an empty document, as before.
                DocOp::Apply { conn, msg, held } => {
                    self.apply_received(now, conn, msg);
                    self.held_refused(conn, held);
                    self.held_done(conn, held);
                }
                DocOp::SendWhole { conn } => self.send(conn, &Message::DocMissing { doc: doc.clone() }),
                DocOp::SyncWhole { conn } => self.send(conn, &Message::DocMissing { doc: doc.clone() }),
                DocOp::StartSync { .. }
                | DocOp::SendChanges { .. }
                | DocOp::IndexBlobs
                | DocOp::Reapply { .. } => {}
            }
        }
    }

    pub(crate) fn run_op(&mut self, now: Instant, doc: &DocId, op: DocOp) {
        match op {
            DocOp::Open => {}
            DocOp::App(id) => self.run_app(now, id),
            DocOp::Apply { conn, msg, held } => {
                self.apply_received(now, conn, msg);
                self.held_done(conn, held);
                self.held_when_durable(conn, doc, held);
            }
            DocOp::SendWhole { conn } => self.send_whole_loaded(now, conn, doc),
            DocOp::SyncWhole { conn } => self.sync_whole(now, conn, doc),
            DocOp::StartSync { conn, theirs } => self.start_sync(now, conn, doc, theirs),
            DocOp::SendChanges { conn, after } => self.send_changes_loaded(now, conn, doc, &after),
            DocOp::Reapply { bytes } => self.reapply(now, doc, &bytes),
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
    pub(crate) fn index_blobs(&mut self, doc: &DocId, am: &Automerge) {
        let refs = blob_refs(am);
        let Some(meta) = self
            .metas
            .get(doc)
            .filter(|m| !m.tombstone && m.blobs[..] != refs[..])
        else {
            return;
        };
        let meta = DocMeta {
            blobs: refs.into(),
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

    /// Queue a DocWhole for the session from a loaded document.
    pub(crate) fn send_whole_loaded(&mut self, now: Instant, conn: ConnId, doc: &DocId) {
        let Some(loaded) = self.cache.get(doc) else { return };
        let bytes = loaded.am.save();
        self.send_whole_bytes(now, conn, doc, bytes);
    }
}
