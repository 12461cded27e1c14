//! Documents as the app sees them: open, read, change, delete (HS-DOC-5), and what follows a
//! change — index, save, push (HS-SYNC-4, HS-RESUME-1).

use std::collections::BTreeSet;

use automerge::Automerge;
use humansync_protocol::{DocId, Message};

use super::cache::{DocOp, PendingIo, new_loaded};
use super::{Core, CoreError};
use crate::recon::Digested;
use crate::{ConnId, DocMeta, Event, Heads, Instant, IoAction, IoTaskId, Origin, Output};

/// Whether a document can be opened right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenState {
    /// Loaded: read and change it now.
    Ready,
    /// Loading: it is being loaded. To act on it once loaded, make an app request
    /// ([`Core::handle_app_request`]): it runs after the load.
    Loading,
    /// Not stored locally (and `create` was false).
    NotFound,
}

impl Core {
    /// Opens a document for reading and editing. With `create`, a missing document is created empty
    /// (it is stored and announced to peers with its first change). A document whose stored copy
    /// failed to load and is being recovered from peers is [`CoreError::Quarantined`].
    pub fn open(&mut self, now: Instant, doc: &DocId, create: bool) -> Result<OpenState, CoreError> {
        self.open_for(now, doc, create, DocOp::Open)
    }

    /// [`Core::open`], running `op` once a load it starts or joins completes.
    pub(crate) fn open_for(
        &mut self,
        now: Instant,
        doc: &DocId,
        create: bool,
        op: DocOp,
    ) -> Result<OpenState, CoreError> {
        if self.metas.get(doc).is_some_and(|m| m.tombstone) {
            return Err(CoreError::Deleted(doc.clone()));
        }
        if let Some(loaded) = self.cache.get_mut(doc) {
            loaded.last_used = now;
            return Ok(OpenState::Ready);
        }
        if self.metas.contains_key(doc) || self.cache.loading.contains_key(doc) {
            self.want_loaded(now, doc, op);
            return Ok(OpenState::Loading);
        }
        if self.quarantine.recovering(doc) {
            // Its stored copy failed to load: an empty stand-in would show nothing and fork its
            // history once the copy from a peer arrives (HS-SYNC-13).
            return Err(CoreError::Quarantined(doc.clone()));
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
            // A deletion needs no answer: a settled session stays settled and sends its Synced
            // for the new log position (HS-RESUME-5) instead of waiting for another exchange.
            self.check_settled(now, conn);
        }
        Ok(task)
    }

    /// Records a tombstone: drops the parsed doc, updates set and index, asks the store to delete.
    pub(crate) fn tombstone(&mut self, now: Instant, doc: &DocId, origin: Origin) -> IoTaskId {
        self.cache.remove(doc);
        self.increments.forget(doc);
        self.unverified.remove(doc);
        self.quarantine.clear(doc);
        // Work waiting on the document ends here: peers that asked for it learn it is deleted,
        // and nobody waits for it any more (HS-SYNC-2, HS-DOC-5).
        let waiting = self.cache.loading.remove(doc).unwrap_or_default();
        let waiters = self.release_waiters(doc, &waiting);
        for op in waiting {
            if let DocOp::App(id) = op {
                self.app_doc_deleted(id, doc);
                continue;
            }
            // Answered DocDeleted below: handled (HS-SYNC-14).
            if let DocOp::Apply { conn, held, .. } = op {
                self.held_done(conn, held);
            }
            if let DocOp::SendWhole { conn }
            | DocOp::SyncWhole { conn }
            | DocOp::StartSync { conn, .. }
            | DocOp::Apply { conn, .. }
            | DocOp::SendChanges { conn, .. } = op
            {
                self.send(conn, &Message::DocDeleted { doc: doc.clone() });
            }
        }
        self.sessions.forget_doc(doc);
        for conn in waiters {
            self.flush_final_reply(now, conn);
        }
        let was_live = self.metas.get(doc).is_some_and(|m| !m.tombstone);
        self.index_doc(
            doc,
            DocMeta {
                heads: Heads::new(),
                blobs: Box::default(),
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
        self.next_task(
            IoAction::DeleteDoc { doc: doc.clone() },
            PendingIo::Delete(doc.clone()),
        )
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
        // The heads before this change: what a peer holds (`assume_peer_holds_indexed`).
        let before = self
            .metas
            .get(doc)
            .filter(|m| !m.tombstone)
            .map(|m| m.heads.to_vec());
        if let Some(loaded) = self.cache.get_mut(doc) {
            let heads = loaded.heads();
            let blobs = loaded.blob_refs_now(None);
            let meta = DocMeta {
                heads: Heads::from_slice(&heads),
                blobs: blobs.into(),
                tombstone: false,
            };
            self.index_doc(doc, meta);
        }
        self.announce_wants();
        let conns: Vec<ConnId> = self.open_conns().filter(|c| Some(*c) != from).collect();
        for conn in conns {
            if let Some(before) = &before {
                self.assume_peer_holds_indexed(conn, doc, before);
            }
            self.push_doc(now, conn, doc);
        }
        task
    }

    /// Sets a document's index row (and so its set digest), logging a digest change (HS-RESUME-1).
    pub(crate) fn index_doc(&mut self, doc: &DocId, meta: DocMeta) {
        if self.metas.digest(doc) != Some(meta.digest()) {
            let old = self
                .metas
                .get(doc)
                .filter(|m| !m.tombstone)
                .map(|m| m.heads.as_slice());
            self.log.record(doc, old);
        }
        // HS-BLOB-4: reference counts follow the index rows of live documents.
        let added = self.blobs.count_refs(&meta.blobs, true);
        let old = self.metas.insert(doc.clone(), meta);
        let removed = old.is_some_and(|old| self.blobs.count_refs(&old.blobs, false));
        if added || removed {
            self.retention.touch();
        }
    }

    pub(crate) fn open_conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.sessions.open_conns()
    }

    pub(crate) fn drop_outputs_for(&mut self, conns: &BTreeSet<ConnId>) {
        self.outputs
            .retain(|o| !matches!(o, Output::Transmit { conn, .. } if conns.contains(conn)));
    }
}
