//! Receiving: frame decoding, the handshake, and dispatch of every session message.

use automerge::sync;
use automerge::{Automerge, ReadDoc};
use humansync_protocol::{CloseCode, DeviceId, DocId, Message, V2, allowed_in, encode_frame, negotiate};

use super::Core;
use super::docs::DocOp;
use super::push::assume_peer_has;
use super::session::{Handshake, OnReconcile, Opening, Session};
use crate::fault::{Closing, PeerFault};
use crate::recon::{self, ReconAction};
use crate::{ConnId, DocMeta, DocWrite, Event, Instant, IoAction, Origin, Output};

/// What a completed handshake hands the open session (HS-VER-1, HS-RECON-1).
#[derive(Debug)]
struct Opened {
    /// The negotiated version.
    version: u16,
    /// The summary in Hello (the dialer's set).
    hello_set: humansync_protocol::SetSummary,
    /// The summary in Welcome (the acceptor's set).
    welcome_set: humansync_protocol::SetSummary,
    /// The peer's `_devices` digest.
    devices: humansync_protocol::DocDigest,
    /// Documents changed while the dialer waited for Welcome (HS-SYNC-4).
    changed: std::collections::BTreeSet<DocId>,
}

impl Core {
    pub(crate) fn inbound(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        session.stats.bytes_in += bytes.len() as u64;
        session.last_in = now;
        session.decoder.push(bytes);
        loop {
            let Some(session) = self.sessions.get_mut(&conn) else {
                return;
            };
            match session.decoder.next_message() {
                Ok(None) => return,
                Ok(Some(msg)) => {
                    session.stats.frames_in += 1;
                    if session.stats.frames_out > session.frames_out_at_last_in {
                        session.stats.round_trips += 1;
                    }
                    session.frames_out_at_last_in = session.stats.frames_out;
                    self.handle_message(now, conn, msg);
                }
                Err(err) => {
                    // HS-FRAME-2, HS-FRAME-3
                    self.close_session(now, conn, PeerFault::Frame(err));
                    return;
                }
            }
        }
    }

    fn handle_message(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        match (&session.handshake, msg) {
            // HS-CLOSE-2, HS-CLOSE-3: a Close is allowed in any phase, before the handshake too;
            // we stop, send nothing more and close with NORMAL. Its code is only reported
            // (an unknown one like PROTOCOL): a peer's REVOKED proves nothing (HS-GATE-7).
            (_, Message::Close { code, .. }) => {
                if let Some(session) = self.sessions.remove(&conn) {
                    self.outputs.push_back(Output::Close {
                        conn,
                        code: CloseCode::NORMAL,
                    });
                    self.session_ended(now, session, code);
                }
            }
            // HS-VER-1, HS-VER-2
            (
                Handshake::AwaitHello { .. },
                Message::Hello {
                    versions,
                    set,
                    devices,
                },
            ) => {
                let Some(version) = negotiate(&self.config.versions, &versions) else {
                    self.close_session(now, conn, PeerFault::NoCommonVersion);
                    return;
                };
                session.handshake.open(version, now);
                let ours = self.set.summary();
                let welcome = Message::Welcome {
                    version,
                    set: ours,
                    devices: self.devices_digest(),
                };
                self.send(conn, &welcome);
                // The acceptor compares (Hello set, Welcome set); so does the dialer (HS-RECON-1).
                let opened = Opened {
                    version,
                    hello_set: set,
                    welcome_set: ours,
                    devices,
                    changed: Default::default(),
                };
                self.session_opened(now, conn, opened);
            }
            (
                Handshake::AwaitWelcome { hello_set, .. },
                Message::Welcome {
                    version,
                    set,
                    devices,
                },
            ) => {
                if !self.config.versions.contains(&version) {
                    // HS-VER-4: a version we did not offer.
                    self.close_session(now, conn, PeerFault::VersionNotOffered);
                    return;
                }
                let hello_set = *hello_set;
                let changed = session.handshake.open(version, now);
                let opened = Opened {
                    version,
                    hello_set,
                    welcome_set: set,
                    devices,
                    changed,
                };
                self.session_opened(now, conn, opened);
            }
            // HS-VER-3: nothing else before the handshake, no second Hello/Welcome after it.
            (Handshake::AwaitHello { .. } | Handshake::AwaitWelcome { .. }, other)
            | (Handshake::Open { .. }, other @ (Message::Hello { .. } | Message::Welcome { .. })) => {
                self.close_session(now, conn, PeerFault::UnexpectedMessage(other.kind()));
            }
            // HS-MSG-5: version-2 messages only in version-2 sessions.
            (Handshake::Open { version, .. }, msg) if !allowed_in(&msg, *version) => {
                self.close_session(now, conn, PeerFault::NeedsVersion2(msg.kind()));
            }
            (Handshake::Open { .. }, msg) => self.handle_open_message(now, conn, msg),
        }
    }

    /// Handshake done: report, start the registry sync and reconciliation, announce blob wants.
    fn session_opened(&mut self, now: Instant, conn: ConnId, opened: Opened) {
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        let (peer, role) = (session.peer, session.role);
        // HS-TRANSPORT-3, HS-TRANSPORT-4: keep one session per peer.
        let duplicate = self
            .sessions
            .values()
            .find(|s| s.peer == peer && s.conn != conn && s.is_open())
            .map(|s| (s.conn, s.role, s.handshake.opened_at()));
        if let Some((other, other_role, other_opened)) = duplicate {
            let loser = super::tie_break::loser(super::tie_break::Pair {
                me: self.config.me,
                peer,
                now,
                newer: (conn, role),
                older: (other, other_role, other_opened),
            });
            self.close_session(now, loser, Closing::Duplicate);
            if loser == conn {
                return;
            }
        }
        self.dialer.session_opened(peer);
        self.reset_sync_states(peer);
        self.emit(Event::PeerConnected(peer));
        // HS-REG-6, HS-REG-10, HS-SYNC-6: the registry first — both sides start the `_devices`
        // sync at once when the digests differ, before any Resume or Reconcile.
        if opened.devices != self.devices_digest() {
            self.sync_step(now, conn, &DocId::devices());
        }
        // One comparison, one answer on both sides: (Hello set, Welcome set) (HS-RECON-1).
        let in_sync = opened.hello_set == opened.welcome_set;
        // HS-VER-6: the resume and its messages only in a version-2 session.
        let resume = !in_sync && opened.version >= V2;
        let position = self.log.position();
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        match session.phase.open(in_sync, resume, role) {
            Opening::InSync => {
                // HS-RESUME-5: equal sets at the handshake: nothing new to tell (a no-change
                // reconnect stays Hello and Welcome).
                session.synced.sent = Some((position, opened.welcome_set));
                self.emit(Event::Reconciled(peer));
                self.last_sync = Some(now);
            }
            Opening::SendResume => self.start_resume(conn),
            Opening::SendReconcile => {
                // HS-RECON-7: the dialer starts.
                let ranges = recon::initiate(&self.set);
                self.send(conn, &Message::Reconcile { ranges });
            }
            // HS-RECON-10: the dialer sends first, so the acceptor waits for a Reconcile.
            Opening::AwaitReconcile => {}
        }
        self.announce_wants_to(conn);
        // HS-SYNC-4: what changed here between Hello and Welcome was not in the Hello summary
        // and could not be pushed yet (found by the simulation fuzz target): push it now.
        for doc in opened.changed {
            match self.set.get(&doc) {
                Some(digest) if digest.is_tombstone() => self.send(conn, &Message::DocDeleted { doc }),
                _ => self.push_doc(now, conn, &doc),
            }
        }
        self.check_settled(now, conn);
    }

    fn handle_open_message(&mut self, now: Instant, conn: ConnId, msg: Message) {
        match msg {
            Message::Reconcile { ranges } => self.handle_reconcile(now, conn, &ranges),
            msg @ (Message::DocSync { .. } | Message::DocWhole { .. }) => self.receive_doc(now, conn, msg),
            Message::DocWant { docs } => {
                for doc in docs {
                    self.answer_want(now, conn, &doc);
                }
            }
            Message::DocMissing { doc } => {
                if let Some(s) = self.sessions.get_mut(&conn) {
                    s.wanted.remove(&doc);
                }
                self.check_settled(now, conn);
            }
            Message::DocDeleted { doc } => {
                if doc.is_devices() {
                    // HS-REG-7
                    self.close_session(now, conn, PeerFault::RegistryDeleted);
                    return;
                }
                if let Some(s) = self.sessions.get_mut(&conn) {
                    s.wanted.remove(&doc);
                    s.syncing.remove(&doc);
                    s.unacked.remove(&doc);
                }
                if self.set.get(&doc) != Some(humansync_protocol::DocDigest::TOMBSTONE) {
                    let peer = self.sessions.get(&conn).map(|s| s.peer);
                    let origin = peer.map(Origin::Remote).unwrap_or(Origin::Local);
                    self.tombstone(now, &doc, origin);
                    // Tell the other sessions too (HS-DOC-5).
                    let others: Vec<ConnId> = self.open_conns().filter(|c| *c != conn).collect();
                    for other in others {
                        self.send(other, &Message::DocDeleted { doc: doc.clone() });
                    }
                }
                self.check_settled(now, conn);
            }
            Message::BlobWant { hashes } => self.answer_blob_want(conn, &hashes),
            Message::BlobHave { hashes } => self.peer_has_blobs(now, conn, &hashes),
            Message::Resume { cursor } => self.handle_resume(now, conn, cursor),
            Message::Resumed { complete } => self.handle_resumed(now, conn, complete),
            Message::DocChanges { doc, bytes } => self.receive_changes(now, conn, doc, bytes),
            Message::Synced { cursor, set } => self.handle_synced(conn, cursor, set),
            Message::Hello { .. } | Message::Welcome { .. } | Message::Close { .. } => {}
        }
    }

    pub(crate) fn handle_reconcile(
        &mut self,
        now: Instant,
        conn: ConnId,
        ranges: &[humansync_protocol::RangeEntry],
    ) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        // HS-RECON-10: only when it is the peer's turn (not after equal summaries, nor once
        // ended). HS-RESUME-6: the first Reconcile after a resume waits until the peer's answer
        // is applied here, so that it compares the sets the resume made.
        match s.phase.on_reconcile(!s.awaiting_loads.is_empty(), ranges) {
            Ok(OnReconcile::Respond) => s.stats.recon_in += 1,
            Ok(OnReconcile::Held) => return,
            Err(fault) => {
                self.close_session(now, conn, fault);
                return;
            }
        }
        let response = match recon::respond(&self.set, ranges) {
            Ok(r) => r,
            Err(e) => {
                self.close_session(now, conn, PeerFault::Recon(e));
                return;
            }
        };
        let finished = response.is_final();
        // HS-RECON-10: a reply that continues reconciliation goes first, so the peer can carry
        // on; the all-Skip that ends it goes last, after the document messages it causes, so the
        // peer has them by the time it learns reconciliation is over (HS-SYNC-7).
        let mut final_reply = None;
        if let Some(reply) = response.reply {
            if finished {
                final_reply = Some(reply);
            } else {
                self.send(conn, &Message::Reconcile { ranges: reply });
            }
        }
        let mut wants = Vec::new();
        for action in response.actions {
            match action {
                ReconAction::SendWhole(doc) => self.want_loaded(now, &doc, DocOp::SendWhole { conn }),
                ReconAction::SendDeleted(doc) => self.send(conn, &Message::DocDeleted { doc }),
                ReconAction::Want(doc) => wants.push(doc),
                ReconAction::RecordTombstone(doc) | ReconAction::DeleteLocal(doc) => {
                    let peer = self.sessions.get(&conn).map(|s| s.peer);
                    self.tombstone(now, &doc, peer.map(Origin::Remote).unwrap_or(Origin::Local));
                }
                ReconAction::Sync(doc) => {
                    let theirs = received_digest(ranges, &doc);
                    self.start_sync(now, conn, &doc, theirs);
                }
            }
        }
        for chunk in wants.chunks(humansync_protocol::limits::MAX_WANT) {
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.wanted.extend(chunk.iter().cloned());
            }
            self.send(conn, &Message::DocWant { docs: chunk.to_vec() });
        }
        if finished {
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.phase.answered_reconcile(true, final_reply);
                let peer = s.peer;
                self.emit(Event::Reconciled(peer));
            }
            self.flush_final_reply(now, conn);
            self.check_settled(now, conn);
        }
    }

    /// Sends the held all-Skip Reconcile once no document message for the session waits on a
    /// load any more (HS-RECON-10).
    pub(crate) fn flush_final_reply(&mut self, now: Instant, conn: ConnId) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if !s.awaiting_loads.is_empty() {
            return;
        }
        // HS-RESUME-3: the same holds for the Resumed that ends an answer to Resume.
        if let Some(complete) = s.phase.take_held_resumed() {
            self.send(conn, &Message::Resumed { complete });
        }
        self.resume_progress(now, conn);
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if let Some(ranges) = s.phase.take_deferred() {
            self.handle_reconcile(now, conn, &ranges);
        }
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if let Some(ranges) = s.phase.take_final_reply() {
            self.send(conn, &Message::Reconcile { ranges });
        }
        self.check_settled(now, conn);
    }

    /// HS-SYNC-2
    fn answer_want(&mut self, now: Instant, conn: ConnId, doc: &DocId) {
        match self.metas.get(doc) {
            Some(meta) if meta.tombstone => self.send(conn, &Message::DocDeleted { doc: doc.clone() }),
            Some(_) => self.want_loaded(now, doc, DocOp::SendWhole { conn }),
            None if doc.is_devices() => self.want_loaded(now, doc, DocOp::SendWhole { conn }),
            None => self.send(conn, &Message::DocMissing { doc: doc.clone() }),
        }
    }

    /// A DocSync or DocWhole arrived: apply it now or once the document is loaded.
    fn receive_doc(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let doc = match &msg {
            Message::DocSync { doc, .. } | Message::DocWhole { doc, .. } => doc.clone(),
            _ => return,
        };
        if let Some(s) = self.sessions.get_mut(&conn) {
            s.wanted.remove(&doc);
        }
        if let Some(acked) = self.bare_ack(conn, &msg) {
            // The acknowledgement of a DocWhole or DocChanges (HS-SYNC-1, HS-RESUME-4,
            // HS-SYNC-7). The sync state already holds the heads sent (`assume_peer_has` when it
            // was sent): nothing to apply, no answer. One that acknowledges an earlier send (a
            // later DocChanges is still on its way) is only noted: applied as a sync message it
            // made this node re-send the changes in flight (two live edits in a row cost a
            // 264-byte DocSync).
            let delivered = self
                .sessions
                .get(&conn)
                .and_then(|s| s.unacked.get(&doc))
                .is_some_and(|sent| {
                    sent.iter().all(|h| acked.contains(&automerge::ChangeHash(h.0)))
                        || self
                            .cache
                            .get(&doc)
                            .is_some_and(|loaded| super::ancestry::covers(&loaded.am, &acked, sent))
                });
            if delivered && let Some(s) = self.sessions.get_mut(&conn) {
                s.unacked.remove(&doc);
            }
            self.check_settled(now, conn);
            return;
        }
        match self.metas.get(&doc) {
            // HS-SYNC-5, HS-DOC-5: a deleted id stays deleted.
            Some(meta) if meta.tombstone => {
                if let Some(s) = self.sessions.get_mut(&conn) {
                    s.syncing.remove(&doc);
                }
                self.send(conn, &Message::DocDeleted { doc });
            }
            Some(_) => self.want_loaded(now, &doc, DocOp::Apply { conn, msg }),
            None if self.cache.get(&doc).is_some() => self.apply_received(now, conn, msg),
            None => match msg {
                // HS-SYNC-1: store an unknown whole document without parsing it.
                Message::DocWhole {
                    doc,
                    heads,
                    blobs,
                    bytes,
                } => self.store_whole(now, conn, doc, heads, blobs, bytes),
                msg => {
                    let am = Automerge::new().with_actor(self.actor.clone());
                    self.cache.insert_new(doc.clone(), am, now);
                    self.apply_received(now, conn, msg);
                }
            },
        }
        self.check_settled(now, conn);
    }

    /// The heads `msg` acknowledges, if it is a DocSync that only acknowledges a DocWhole or
    /// DocChanges we sent on `conn` and the peer has not yet acknowledged: the form
    /// [`Core::acknowledge_whole`] sends (no changes, no need, one `have` of exactly its heads with
    /// an empty Bloom filter, no flags, which Automerge's own messages always carry).
    fn bare_ack(&self, conn: ConnId, msg: &Message) -> Option<Vec<automerge::ChangeHash>> {
        let Message::DocSync { doc, message } = msg else {
            return None;
        };
        self.sessions.get(&conn).and_then(|s| s.unacked.get(doc))?;
        // HS-SYNC-12: bounded like every sync message; one that fails is left to the full path.
        let message = crate::untrusted::decode_sync_message(message).ok()?;
        let bare_have = matches!(message.have.as_slice(), [have]
            if have.last_sync == message.heads && have.bloom.to_bytes().is_empty());
        (message.changes.is_empty() && message.need.is_empty() && message.flags.is_none() && bare_have)
            .then_some(message.heads)
    }

    fn store_whole(
        &mut self,
        now: Instant,
        conn: ConnId,
        doc: DocId,
        heads: Vec<humansync_protocol::ChangeHash>,
        blobs: Vec<humansync_protocol::BlobHash>,
        bytes: Vec<u8>,
    ) {
        let mut heads = heads;
        heads.sort_unstable();
        heads.dedup();
        let peer = self.sessions.get(&conn).map(|s| s.peer);
        // HS-SYNC-13: bytes with these heads from this peer already failed to load here.
        if let Some(peer) = peer
            && self
                .quarantine
                .refuses(&doc, &humansync_protocol::digest::heads_digest(&heads), &peer)
        {
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.wanted.remove(&doc);
            }
            return;
        }
        // HS-SYNC-12: never store (nor later serve) bytes that are not bounded Automerge chunks;
        // HS-SYNC-10: they are discarded and the peer is told why.
        if let Err(e) = crate::untrusted::check_saved(&bytes) {
            let reason = format!("DocWhole for {doc} refused: {e}");
            self.reject_bytes(now, conn, &doc, reason);
            return;
        }
        if let Some(peer) = peer {
            self.unverified.insert(doc.clone(), peer);
        }
        // HS-BLOB-1: the `blobs` list is the sender's claim; only what the content references is
        // indexed and wanted, once the document is loaded (below).
        let claims_blobs = !blobs.is_empty();
        let meta = DocMeta {
            heads,
            blobs: Vec::new(),
            tombstone: false,
        };
        self.index_doc(&doc, meta.clone());
        // HS-SYNC-1: acknowledge the stored heads to the sender (HS-SYNC-7).
        self.acknowledge_whole(conn, &doc, &meta.heads);
        // The peer holds these heads (it just sent them): recorded, so that the first local
        // change after the document is opened goes to it as DocChanges, not whole (HS-SYNC-4).
        let sync_states = peer
            .map(|peer| {
                let mut state = automerge::sync::State::new();
                super::push::assume_peer_has(&mut state, &meta.heads);
                vec![(peer, state.encode())]
            })
            .unwrap_or_default();
        let action = IoAction::SaveDoc {
            doc: doc.clone(),
            write: Some(DocWrite::Replace(bytes)),
            meta,
            sync_states,
        };
        self.next_task(action, super::docs::PendingIo::Save(doc.clone()));
        self.emit(Event::DocChanged {
            doc: doc.clone(),
            origin: peer.map(Origin::Remote).unwrap_or(Origin::Local),
        });
        self.announce_wants();
        // Forward to the other sessions (they may lack it too); their reconciliation would find it
        // anyway. The bytes are parsed before they leave (HS-SYNC-12: `unverified`).
        let others: Vec<ConnId> = self.open_conns().filter(|c| *c != conn).collect();
        for other in others {
            self.want_loaded(now, &doc, DocOp::SendWhole { conn: other });
        }
        if claims_blobs {
            self.want_loaded(now, &doc, DocOp::IndexBlobs);
        }
    }

    /// Applies a DocSync, DocWhole or DocChanges to the loaded document (HS-SYNC-1, HS-SYNC-3,
    /// HS-RESUME-4).
    pub(crate) fn apply_received(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        if let Message::DocChanges { doc, bytes } = msg {
            self.apply_changes(now, conn, &doc, &bytes);
            return;
        }
        let whole = matches!(msg, Message::DocWhole { .. });
        let (doc, result) = match msg {
            Message::DocSync { doc, message } => {
                let result = self.apply_sync(now, peer, &doc, &message);
                (doc, result)
            }
            Message::DocWhole {
                doc, bytes, heads, ..
            } => {
                let result = self.apply_whole(now, peer, &doc, &bytes, &heads);
                (doc, result)
            }
            _ => return,
        };
        match result {
            // HS-SYNC-10: document bytes that do not load are discarded and the session closed.
            Err(reason) => self.reject_bytes(now, conn, &doc, reason),
            Ok(changed) => {
                // HS-SYNC-7: the peer's heads are known now; a document we sent it whole may
                // be delivered.
                self.peer_heads_known(conn, &doc);
                if changed {
                    self.emit(Event::DocChanged {
                        doc: doc.clone(),
                        origin: Origin::Remote(peer),
                    });
                    if doc.is_devices() {
                        self.devices_doc_changed(now, Some(conn));
                    } else {
                        self.doc_updated(now, &doc, Some(conn));
                    }
                }
                // Answer (or continue) the Automerge sync with this peer.
                if self.sessions.contains_key(&conn) {
                    let answered = self.sync_step(now, conn, &doc);
                    // HS-SYNC-1: a DocWhole is always acknowledged.
                    if whole && !answered {
                        let heads = self.cache.get(&doc).map(|l| l.heads()).unwrap_or_default();
                        self.acknowledge_whole(conn, &doc, &heads);
                    }
                    if !changed {
                        self.save(now, &doc);
                    }
                }
            }
        }
    }

    fn apply_sync(
        &mut self,
        now: Instant,
        peer: DeviceId,
        doc: &DocId,
        message: &[u8],
    ) -> Result<bool, String> {
        // HS-SYNC-12: bounded before Automerge decodes or applies anything.
        let message = crate::untrusted::decode_sync_message(message)
            .map_err(|e| format!("DocSync for {doc} refused: {e}"))?;
        let Some(loaded) = self.cache.get_mut(doc) else {
            return Ok(false);
        };
        loaded.last_used = now;
        let before = loaded.heads();
        let state = loaded.sync.entry(peer).or_default();
        super::sync_msg::receive(&mut loaded.am, state, message)
            .map_err(|e| format!("Automerge sync failed: {e}"))?;
        loaded.sync_dirty.insert(peer);
        Ok(loaded.heads() != before)
    }

    fn apply_whole(
        &mut self,
        now: Instant,
        peer: DeviceId,
        doc: &DocId,
        bytes: &[u8],
        heads: &[humansync_protocol::ChangeHash],
    ) -> Result<bool, String> {
        let Some(loaded) = self.cache.get_mut(doc) else {
            return Ok(false);
        };
        loaded.last_used = now;
        let before = loaded.heads();
        crate::untrusted::load_incremental(&mut loaded.am, bytes)
            .map_err(|e| format!("DocWhole for {doc} refused: {e}"))?;
        // Trust the peer's claimed heads only where the document now holds them: automerge
        // keeps shared heads to known changes (found by the core_session fuzz target).
        let known: Vec<humansync_protocol::ChangeHash> = heads
            .iter()
            .filter(|h| {
                loaded
                    .am
                    .get_change_by_hash(&automerge::ChangeHash(h.0))
                    .is_some()
            })
            .copied()
            .collect();
        assume_peer_has(loaded.state(peer), &known);
        loaded.sync_dirty.insert(peer);
        Ok(loaded.heads() != before)
    }

    /// Closes a session: sends Close, asks the runtime to close the connection, reports it.
    pub(crate) fn close_session(&mut self, now: Instant, conn: ConnId, why: impl Into<Closing>) {
        if !self.sessions.contains_key(&conn) {
            return;
        }
        let why = why.into();
        let code = why.code();
        let mut reason = why.reason();
        let mut cut = reason.len().min(humansync_protocol::limits::MAX_REASON_LEN);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        if let Ok(bytes) = encode_frame(&Message::Close { code, reason }) {
            self.outputs.push_back(Output::Transmit { conn, bytes });
        }
        self.outputs.push_back(Output::Close { conn, code });
        if let Some(session) = self.sessions.remove(&conn) {
            self.session_ended(now, session, code);
        }
    }

    /// Forget per-session state: in-flight sync state resets to its persisted form.
    pub(crate) fn session_ended(&mut self, now: Instant, session: Session, code: CloseCode) {
        let peer = session.peer;
        self.reset_sync_states(peer);
        self.blobs.peer_gone(&peer);
        let opened = session.is_open();
        if opened {
            self.emit(Event::PeerDisconnected { peer, code });
        }
        self.dialer.session_ended(now, &self.gate, peer, opened);
        self.plan_dials(now);
    }

    /// Drops the in-flight part of every sync state with `peer` (what was sent, what it said it
    /// has), keeping only the persisted shared heads. Done whenever a session with the peer opens
    /// or ends, since messages of another session may never have arrived.
    pub(crate) fn reset_sync_states(&mut self, peer: DeviceId) {
        for (_, loaded) in self.cache.iter_mut() {
            if let Some(state) = loaded.sync.get_mut(&peer) {
                *state = sync::State::decode(&state.encode()).unwrap_or_default();
            }
        }
    }

    /// Reports reconciliation and settles the status once nothing is outstanding (HS-SYNC-7).
    pub(crate) fn check_settled(&mut self, now: Instant, conn: ConnId) {
        let Some(s) = self.sessions.get(&conn) else { return };
        if s.is_settled() {
            self.last_sync = Some(now);
            self.accept_parked_cursors();
            self.maybe_send_synced(now, conn);
        }
    }
}

/// The digest a received Reconcile lists for `doc` in one of its `Items` ranges.
fn received_digest(
    ranges: &[humansync_protocol::RangeEntry],
    doc: &DocId,
) -> Option<humansync_protocol::DocDigest> {
    ranges.iter().find_map(|range| match &range.mode {
        humansync_protocol::RangeMode::Items(items) => items
            .binary_search_by(|item| item.doc.as_str().as_bytes().cmp(doc.as_str().as_bytes()))
            .ok()
            .and_then(|i| items.get(i))
            .map(|item| item.digest),
        _ => None,
    })
}
