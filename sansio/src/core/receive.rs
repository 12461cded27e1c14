//! An open session's messages (HS-MSG-*): dispatch, and receiving documents — DocWant answers
//! (HS-SYNC-2), DocSync and DocWhole applied or stored unparsed (HS-SYNC-1, HS-SYNC-3,
//! HS-SYNC-12), acknowledgements taken without a load (HS-SYNC-7).

use automerge::{Automerge, ReadDoc};
use humansync_protocol::{DeviceId, DocId, Message};

use super::Core;
use super::cache::DocOp;
use super::push::assume_peer_has;
use crate::fault::PeerFault;
use crate::{ConnId, DocMeta, DocWrite, Event, Heads, Instant, IoAction, Origin};

impl Core {
    pub(crate) fn handle_open_message(&mut self, now: Instant, conn: ConnId, msg: Message) {
        match msg {
            Message::Reconcile { ranges } => self.handle_reconcile(now, conn, &ranges),
            msg @ (Message::DocSync { .. } | Message::DocWhole { .. }) => {
                let whole = match &msg {
                    Message::DocWhole { doc, bytes, .. } => Some((doc.clone(), bytes.len())),
                    _ => None,
                };
                let held = whole
                    .as_ref()
                    .and_then(|(_, len)| self.count_received(conn, *len));
                let whole = whole.map(|(doc, _)| doc);
                self.receive_doc(now, conn, msg, held);
                if let Some(doc) = whole {
                    self.held_when_durable(conn, &doc, held);
                }
            }
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
                if self.metas.digest(&doc) != Some(humansync_protocol::DocDigest::TOMBSTONE) {
                    let peer = self.sessions.get(&conn).map(|s| s.peer);
                    let origin = peer.map(Origin::Remote).unwrap_or(Origin::Local);
                    self.tombstone(now, &doc, origin);
                    // Tell the other sessions too (HS-DOC-5).
                    let others: Vec<ConnId> = self.open_conns().filter(|c| *c != conn).collect();
                    for other in others {
                        self.send(other, &Message::DocDeleted { doc: doc.clone() });
                        self.check_settled(now, other);
                    }
                }
                self.check_settled(now, conn);
            }
            Message::BlobWant { hashes } => self.answer_blob_want(conn, &hashes),
            Message::BlobHave { hashes } => self.peer_has_blobs(now, conn, &hashes),
            Message::Resume { cursor } => self.handle_resume(now, conn, cursor),
            Message::Resumed { complete } => self.handle_resumed(now, conn, complete),
            Message::DocChanges { doc, bytes } => {
                let held = self.count_received(conn, bytes.len());
                self.receive_changes(now, conn, doc.clone(), bytes, held);
                self.held_when_durable(conn, &doc, held);
            }
            Message::Synced { cursor, set } => self.handle_synced(conn, cursor, set),
            Message::Held { count, refused } => self.handle_held(now, conn, count, &refused),
            Message::Hello { .. } | Message::Welcome { .. } | Message::Close { .. } => {}
        }
    }

    /// HS-SYNC-2
    pub(crate) fn answer_want(&mut self, now: Instant, conn: ConnId, doc: &DocId) {
        match self.metas.get(doc) {
            Some(meta) if meta.tombstone => self.send(conn, &Message::DocDeleted { doc: doc.clone() }),
            Some(_) => self.want_loaded(now, doc, DocOp::SendWhole { conn }),
            None if doc.is_devices() => self.want_loaded(now, doc, DocOp::SendWhole { conn }),
            None => self.send(conn, &Message::DocMissing { doc: doc.clone() }),
        }
    }

    /// A DocSync or DocWhole arrived: apply it now or once the document is loaded. `held` is a
    /// DocWhole's number for `Held` (version 3, HS-SYNC-14).
    pub(crate) fn receive_doc(&mut self, now: Instant, conn: ConnId, msg: Message, held: Option<u64>) {
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
            Some(_) => self.apply_when_loaded(now, conn, &doc, msg, held),
            None if self.cache.get(&doc).is_some() => self.apply_received(now, conn, msg),
            None => match msg {
                // HS-SYNC-1: store an unknown whole document without parsing it.
                Message::DocWhole {
                    doc,
                    heads,
                    blobs,
                    bytes,
                } => self.store_whole(now, conn, doc, heads, blobs, bytes, held),
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
    pub(crate) fn bare_ack(&self, conn: ConnId, msg: &Message) -> Option<Vec<automerge::ChangeHash>> {
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

    /// Stores a DocWhole for a document not held, unparsed (HS-SYNC-1). `held` is its number for
    /// `Held` (version 3, HS-SYNC-14).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn store_whole(
        &mut self,
        now: Instant,
        conn: ConnId,
        doc: DocId,
        heads: Vec<humansync_protocol::ChangeHash>,
        blobs: Vec<humansync_protocol::BlobHash>,
        bytes: Vec<u8>,
        held: Option<u64>,
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
            // HS-SYNC-14: not taken; the sender keeps it outstanding (HS-SYNC-7).
            self.held_refused(conn, held);
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
            heads: Heads::from_slice(&heads),
            blobs: Box::default(),
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
            // Shared by the task and the copy kept until the store answers (resave.rs): one
            // buffer, not two (issue 17: 18 MB of clones live at the peak of an initial sync).
            write: Some(DocWrite::Replace(bytes.into())),
            meta,
            sync_states,
        };
        self.resave.whole_superseded(&doc);
        let kept = Box::new(action.clone());
        self.next_task(action, super::cache::PendingIo::SaveWhole(doc.clone(), kept));
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

    pub(crate) fn apply_sync(
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

    pub(crate) fn apply_whole(
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
}
