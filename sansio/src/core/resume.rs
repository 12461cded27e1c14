//! Protocol version 2: a reconnect resumes from a cursor into the peer's change log instead of
//! reconciling the whole set (HS-RESUME-1 .. HS-RESUME-6).

use automerge::ReadDoc;
use humansync_protocol::limits::SYNCED_INTERVAL_MS;
use humansync_protocol::{ChangeHash, Cursor, DocId, Message, SetSummary, V2};

use super::Core;
use super::cache::{DocOp, PendingIo};
use super::log::Catchup;
use super::send_window::Waiting;
use super::session::ResumeEnd;
use crate::fault::PeerFault;
use crate::{ConnId, Event, Instant, IoAction, Origin};

impl Core {
    /// The summaries differ on a version-2 session: each side asks the other for what changed
    /// after its cursor into the other's log (HS-RESUME-2). The session is `Resuming` already.
    pub(crate) fn start_resume(&mut self, conn: ConnId) {
        let Some(s) = self.sessions.get(&conn) else {
            return;
        };
        let cursor = self.log.cursor(&s.peer);
        self.send(conn, &Message::Resume { cursor });
    }

    /// HS-RESUME-3: one message per document changed after `cursor`, then Resumed (held until
    /// those messages are out).
    pub(crate) fn handle_resume(&mut self, now: Instant, conn: ConnId, cursor: Option<Cursor>) {
        let changed = cursor.and_then(|c| self.log.changed_since(&c));
        let complete = changed.is_some();
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        // Our Resumed is held until the document messages of the answer are out.
        if let Err(fault) = s.phase.on_resume(complete) {
            self.close_session(now, conn, fault);
            return;
        }
        for (doc, catchup) in changed.unwrap_or_default() {
            match catchup {
                Catchup::ChangesAfter(after) => self.send_catchup(now, conn, &doc, after),
                Catchup::Whole => match self.metas.get(&doc) {
                    // Lost here since (corrupt): there is nothing to send.
                    None => {}
                    Some(meta) if meta.tombstone => self.send(conn, &Message::DocDeleted { doc }),
                    Some(_) => self.want_loaded(now, &doc, DocOp::SendWhole { conn }),
                },
            }
        }
        self.flush_final_reply(now, conn);
    }

    /// Sends `doc`'s changes after `after`, heads the peer holds (HS-RESUME-3): as saved, when
    /// they chain from there to ours (no load, increments.rs), else from the loaded document;
    /// once the window has room (HS-SYNC-15).
    pub(crate) fn send_catchup(&mut self, now: Instant, conn: ConnId, doc: &DocId, after: Vec<ChangeHash>) {
        let heads = match self.metas.get(doc) {
            // Lost here since (corrupt): there is nothing to send.
            None => return,
            Some(meta) if meta.tombstone => {
                self.send(conn, &Message::DocDeleted { doc: doc.clone() });
                return;
            }
            Some(meta) => meta.heads.to_vec(),
        };
        if !self.window_admits(conn, doc, Waiting::ChangesAfter(after.clone())) {
            return;
        }
        let limit = self.doc_limit();
        if let Some(bytes) = self.increments.changes_between(doc, &after, &heads, limit) {
            self.send_changes(conn, doc, heads, bytes);
            return;
        }
        self.want_loaded(now, doc, DocOp::SendChanges { conn, after });
    }

    /// The peer's answer is complete (or not) (HS-RESUME-3).
    pub(crate) fn handle_resumed(&mut self, now: Instant, conn: ConnId, complete: bool) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if let Err(fault) = s.phase.on_resumed(complete) {
            self.close_session(now, conn, fault);
            return;
        }
        // HS-SYNC-14: the peer's whole answer is in; one Held acknowledges what is applied of it.
        self.send_held(now, conn);
        self.resume_progress(now, conn);
    }

    /// Ends the resume once both answers are out (HS-RESUME-6): if both were complete the sets
    /// are reconciled; otherwise range reconciliation follows, which the dialer starts once it
    /// has applied the peer's answer, from one range over the whole set.
    pub(crate) fn resume_progress(&mut self, now: Instant, conn: ConnId) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        match s.phase.resume_progress(s.role, !s.awaiting_loads.is_empty()) {
            None | Some(ResumeEnd::AwaitReconcile) => {}
            Some(ResumeEnd::Complete) => {
                let peer = s.peer;
                self.emit(Event::Reconciled(peer));
                self.check_settled(now, conn);
            }
            Some(ResumeEnd::SendReconcile { neither }) => {
                // Neither side knew a cursor (a new device, or both restarted): the sets likely
                // differ, so start splitting at once; otherwise the resume likely made them equal.
                let ranges = if neither {
                    crate::recon::initiate(self.metas.set())
                } else {
                    crate::recon::initiate_whole(self.metas.set())
                };
                self.send(conn, &Message::Reconcile { ranges });
            }
        }
    }

    /// A DocChanges arrived: apply it once the document is loaded (HS-RESUME-4). `held` is its
    /// number for `Held` (version 3, HS-SYNC-14).
    pub(crate) fn receive_changes(
        &mut self,
        now: Instant,
        conn: ConnId,
        doc: DocId,
        bytes: Vec<u8>,
        held: Option<u64>,
    ) {
        if doc.is_devices() {
            // `_devices` is never in the log: it syncs by its own digest (HS-REG-6).
            self.close_session(now, conn, PeerFault::RegistryChanges);
            return;
        }
        // Some(true): a tombstone.
        match self.metas.get(&doc).map(|meta| meta.tombstone) {
            Some(true) => self.send(conn, &Message::DocDeleted { doc }),
            // Appended to the stored document without parsing it when that is safe (append.rs).
            Some(false) if self.append_changes(now, conn, &doc, &bytes) => {}
            Some(false) => {
                let msg = Message::DocChanges {
                    doc: doc.clone(),
                    bytes,
                };
                self.apply_when_loaded(now, conn, &doc, msg, held);
            }
            None if self.cache.get(&doc).is_some() => self.apply_changes(now, conn, &doc, &bytes),
            None => {
                // Changes to a document we do not hold: ask for it whole (HS-SYNC-2).
                if let Some(s) = self.sessions.get_mut(&conn) {
                    s.wanted.insert(doc.clone());
                }
                self.send(conn, &Message::DocWant { docs: vec![doc] });
            }
        }
        self.check_settled(now, conn);
    }

    /// Applies DocChanges to the loaded document without answering; if changes it depends on
    /// are missing here, an Automerge sync with the sender fetches them (HS-RESUME-4).
    pub(crate) fn apply_changes(&mut self, now: Instant, conn: ConnId, doc: &DocId, bytes: &[u8]) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        let Some(loaded) = self.cache.get_mut(doc) else {
            return;
        };
        loaded.last_used = now;
        let before = loaded.heads();
        if let Err(e) = crate::untrusted::load_incremental(&mut loaded.am, bytes) {
            // HS-SYNC-10, HS-SYNC-12
            let reason = format!("DocChanges for {doc} refused: {e}");
            self.reject_bytes(now, conn, doc, reason);
            return;
        }
        let missing = !loaded.am.get_missing_deps(&[]).is_empty();
        if loaded.heads() != before {
            self.emit(Event::DocChanged {
                doc: doc.clone(),
                origin: Origin::Remote(peer),
            });
            self.doc_updated(now, doc, Some(conn));
        }
        if missing {
            self.start_sync(now, conn, doc, None);
        } else if let Some(heads) = self.cache.get(doc).map(|loaded| loaded.heads()) {
            // HS-RESUME-4: the sender counts the changes outstanding until acknowledged.
            self.acknowledge_whole(conn, doc, &heads);
        }
        self.check_settled(now, conn);
    }

    /// Sends the changes of a loaded document after `after` (heads the peer holds), or the whole
    /// document if it lacks any of them (HS-RESUME-3).
    pub(crate) fn send_changes_loaded(
        &mut self,
        now: Instant,
        conn: ConnId,
        doc: &DocId,
        after: &[ChangeHash],
    ) {
        let Some(loaded) = self.cache.get(doc) else {
            return;
        };
        let after_am: Vec<automerge::ChangeHash> = after.iter().map(|h| automerge::ChangeHash(h.0)).collect();
        if after_am.iter().any(|h| loaded.am.get_change_by_hash(h).is_none()) {
            let bytes = loaded.am.save();
            self.send_whole_bytes(now, conn, doc, bytes);
            return;
        }
        let bytes = loaded.am.save_after(&after_am);
        if bytes.len() > self.doc_limit() {
            // HS-SYNC-9: too many changes for one DocChanges: the peer holds `after`, so a sync
            // from there sends just them, in bounded DocSync messages (as HS-SYNC-11 does).
            let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
                return;
            };
            if let Some(loaded) = self.cache.get_mut(doc) {
                super::push::assume_peer_has(loaded.state(peer), after);
            }
            self.sync_step(now, conn, doc);
            return;
        }
        if !bytes.is_empty() {
            let heads = loaded.heads();
            // HS-SYNC-15: sent again later (from `after`), these bytes dropped.
            if !self.window_open(conn, doc, Waiting::ChangesAfter(after.to_vec())) {
                return;
            }
            self.send_changes(conn, doc, heads, bytes);
        }
    }

    /// Sends Synced when the session has settled with something new to tell, at most once per
    /// `SYNCED_INTERVAL_MS` (HS-RESUME-5).
    pub(crate) fn maybe_send_synced(&mut self, now: Instant, conn: ConnId) {
        if !self.log.enabled() {
            return;
        }
        let set = self.metas.summary();
        let position = self.log.position();
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        s.synced.due = None;
        if s.version() < V2 || !s.is_open() || !s.is_settled() {
            return;
        }
        if s.synced
            .sent
            .is_some_and(|(c, summary)| c == position && summary == set)
        {
            return;
        }
        if now < s.synced.not_before {
            s.synced.due = Some(s.synced.not_before);
            return;
        }
        s.synced.not_before = now.plus_ms(SYNCED_INTERVAL_MS);
        let cursor = self.log.checkpoint();
        if let Some(s) = self.sessions.get_mut(&conn) {
            s.synced.sent = Some((cursor, set));
        }
        self.send(conn, &Message::Synced { cursor, set });
    }

    /// The peer is at `cursor` with `set`. Whenever our set equals `set` with every write
    /// durable — now, or once what is still being applied here is in — we hold everything in its
    /// log up to `cursor`, and keep the cursor (HS-RESUME-5).
    pub(crate) fn handle_synced(&mut self, conn: ConnId, cursor: Cursor, set: SetSummary) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        self.log.park(peer, cursor, set);
        self.accept_parked_cursors();
    }

    /// Accepts the parked Synced messages whose set equals ours, once nothing is left to write.
    pub(crate) fn accept_parked_cursors(&mut self) {
        // Called on every settled check and write completion: look at the pending writes (a
        // scan) only when a Synced is actually waiting.
        if !self.log.has_parked() || self.writes_pending() {
            return;
        }
        let summary = self.metas.summary();
        if self.log.accept_parked(&summary) {
            self.persist_cursors();
        }
    }

    /// A stored document was lost: what we held of peers' logs is unknown now (HS-RESUME-5).
    pub(crate) fn forget_cursors(&mut self) {
        if self.log.forget_cursors() {
            self.persist_cursors();
        }
    }

    /// Whether a document write is in flight, or was refused (a full disk) and waits to be
    /// asked for again: a cursor kept now could claim what a crash would lose (HS-RESUME-5).
    fn writes_pending(&self) -> bool {
        !self.refused_appends.is_empty() || self.durable.any_in_flight() || self.resave.len() > 0
    }

    fn persist_cursors(&mut self) {
        let cursors = self.log.cursors();
        self.next_task(IoAction::SaveCursors { cursors }, PendingIo::Cursors);
    }
}
