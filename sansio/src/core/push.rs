//! Sending: framing, whole-document transfer, per-document Automerge sync steps and live push.

use std::collections::BTreeSet;

use automerge::ReadDoc;
use automerge::sync::{self, SyncDoc};
use humansync_protocol::limits::{MAX_BLOB_REFS, MAX_DOC_BYTES, MAX_HEADS};
use humansync_protocol::{ChangeHash, DocDigest, DocId, Message, encode_frame};

use super::Core;
use super::cache::DocOp;
use super::send_window::Waiting;
use crate::{ConnId, Event, Instant, Output};

impl Core {
    /// Frames and queues `msg` for the session on `conn`.
    pub(crate) fn send(&mut self, conn: ConnId, msg: &Message) {
        let bytes = match encode_frame(msg) {
            Ok(bytes) => bytes,
            Err(_) => {
                // Only document payloads can outgrow the limits (HS-MSG-2), and the callers fall
                // back to bounded DocSync before that (HS-SYNC-9): this is the last guard of
                // HS-FRAME-4's MUST NOT. Report and skip.
                if let Message::DocWhole { doc, bytes, .. }
                | Message::DocChanges { doc, bytes }
                | Message::DocSync {
                    doc, message: bytes, ..
                } = msg
                {
                    self.emit(Event::DocTooLarge {
                        doc: doc.clone(),
                        bytes: bytes.len(),
                    });
                }
                return;
            }
        };
        if let Some(session) = self.sessions.get_mut(&conn) {
            session.stats.frames_out += 1;
            session.stats.bytes_out += bytes.len() as u64;
            if matches!(msg, Message::Reconcile { .. }) {
                session.stats.recon_out += 1;
            }
            self.outputs.push_back(Output::Transmit { conn, bytes });
        }
        self.count_sent(conn, msg);
    }

    /// Sends the saved bytes of `doc` whole (HS-SYNC-1) and records that the peer now holds its heads.
    ///
    /// A document that cannot be sent whole — its saved form over the whole-document limit
    /// ([`super::CoreConfig::max_doc_bytes`], at most `MAX_DOC_BYTES`), more than `MAX_HEADS`
    /// heads or more than `MAX_BLOB_REFS` blob references — is synced instead (HS-SYNC-9).
    pub(crate) fn send_whole_bytes(&mut self, now: Instant, conn: ConnId, doc: &DocId, bytes: Vec<u8>) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        // HS-SYNC-15: no room in the window: sent again later, these bytes dropped.
        if !self.window_open(conn, doc, Waiting::Whole) {
            return;
        }
        let (heads, blobs) = match self.cache.get_mut(doc) {
            Some(loaded) => (loaded.heads(), loaded.blob_refs_now(None)),
            None => match self.metas.get(doc) {
                Some(meta) if !meta.tombstone => (meta.heads.to_vec(), meta.blobs.to_vec()),
                _ => return,
            },
        };
        if bytes.len() > self.doc_limit() || heads.len() > MAX_HEADS || blobs.len() > MAX_BLOB_REFS {
            self.sync_whole(now, conn, doc);
            return;
        }
        if let Some(loaded) = self.cache.get_mut(doc) {
            assume_peer_has(loaded.state(peer), &heads);
        }
        // HS-SYNC-7: outstanding until the peer acknowledges it (HS-SYNC-1), not once sent.
        if let Some(session) = self.sessions.get_mut(&conn) {
            session.unacked.insert(doc.clone(), heads.clone());
        }
        self.send(
            conn,
            &Message::DocWhole {
                doc: doc.clone(),
                heads,
                blobs,
                bytes,
            },
        );
    }

    /// Acknowledges a received DocWhole (HS-SYNC-1) or DocChanges (HS-RESUME-4): a DocSync
    /// announcing that this node holds `heads` and nothing after them, so the sender counts the
    /// document as delivered (HS-SYNC-7). Sent when nothing else answers the message.
    pub(crate) fn acknowledge_whole(
        &mut self,
        conn: ConnId,
        doc: &DocId,
        heads: &[humansync_protocol::ChangeHash],
    ) {
        if self.uses_held(conn) {
            // Version 3: counted for the session's next Held instead (HS-SYNC-14).
            return;
        }
        let mut heads: Vec<automerge::ChangeHash> =
            heads.iter().map(|h| automerge::ChangeHash(h.0)).collect();
        heads.sort_unstable();
        heads.dedup();
        let message = sync::Message {
            heads: heads.clone(),
            need: Vec::new(),
            have: vec![sync::Have {
                last_sync: heads,
                bloom: sync::BloomFilter::default(),
            }],
            changes: sync::ChunkList::empty(),
            flags: None,
            version: sync::MessageVersion::V1,
        };
        self.send(
            conn,
            &Message::DocSync {
                doc: doc.clone(),
                message: message.encode(),
            },
        );
    }

    /// The peer announced its heads of `doc` (a DocSync or DocWhole from it was applied): a
    /// document sent whole is delivered once they include the heads sent (HS-SYNC-7).
    pub(crate) fn peer_heads_known(&mut self, conn: ConnId, doc: &DocId) {
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        let Some(sent) = session.unacked.get(doc) else {
            return;
        };
        let delivered = self.cache.get(doc).is_some_and(|loaded| {
            loaded
                .sync
                .get(&session.peer)
                .and_then(|state| state.their_heads.as_ref())
                .is_some_and(|theirs| super::ancestry::covers(&loaded.am, theirs, sent))
        });
        if delivered && let Some(session) = self.sessions.get_mut(&conn) {
            session.unacked.remove(doc);
        }
    }

    /// The largest document payload sent in one message: the configured limit, never above
    /// `MAX_DOC_BYTES` (HS-SYNC-9).
    pub(crate) fn doc_limit(&self) -> usize {
        self.config.max_doc_bytes.min(MAX_DOC_BYTES)
    }

    /// HS-SYNC-9: sends a document that cannot go whole as Automerge sync messages. Like a
    /// DocWhole, the first one carries every change, unless the sync state already knows what the
    /// peer holds; [`Core::sync_step`] bounds each message.
    pub(crate) fn sync_whole(&mut self, now: Instant, conn: ConnId, doc: &DocId) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        let Some(loaded) = self.cache.get_mut(doc) else {
            self.want_loaded(now, doc, DocOp::SyncWhole { conn });
            return;
        };
        let state = loaded.state(peer);
        if state.their_heads.is_none() {
            assume_peer_has(state, &[]);
        }
        self.sync_step(now, conn, doc);
    }

    /// Live push of a changed document to one session (HS-SYNC-4): DocSync when the sync state
    /// with that peer knows shared heads, else the whole document.
    pub(crate) fn push_doc(&mut self, now: Instant, conn: ConnId, doc: &DocId) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        // HS-SYNC-15: pushed once the window has room, after the sends waiting already.
        if !self.window_admits(conn, doc, Waiting::Push) {
            return;
        }
        let Some(loaded) = self.cache.get_mut(doc) else {
            return;
        };
        let state = loaded.state(peer);
        if state.shared_heads.is_empty() && state.their_heads.is_none() && !doc.is_devices() {
            self.want_loaded(now, doc, DocOp::SendWhole { conn });
        } else if !self.push_changes(conn, doc) {
            self.sync_step(now, conn, doc);
        }
    }

    /// The session's peer holds `doc` at `before`, the heads it had before a change now being
    /// pushed, when reconciliation is over and nothing about `doc` is outstanding on the session
    /// (HS-SYNC-4, HS-SYNC-7; `Session::holds_as_indexed`): the peer holds what this node held.
    /// Recorded in the sync state when this node keeps none for the peer — it sent the document
    /// whole without parsing it, or let it go from memory since — so that the change goes as
    /// DocChanges after those heads, which the peer appends unparsed, instead of whole, which it
    /// must load and merge. Should the peer lack them after all, it syncs (HS-RESUME-4).
    pub(crate) fn assume_peer_holds_indexed(&mut self, conn: ConnId, doc: &DocId, before: &[ChangeHash]) {
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        if !session.holds_as_indexed(doc) {
            return;
        }
        let peer = session.peer;
        let Some(loaded) = self.cache.get_mut(doc) else {
            return;
        };
        let known = loaded
            .sync
            .get(&peer)
            .is_some_and(|s| !s.shared_heads.is_empty() || s.their_heads.is_some());
        if !known {
            assume_peer_has(loaded.state(peer), before);
            loaded.sync_dirty.insert(peer);
        }
    }

    /// Live push of only the new changes (HS-SYNC-4, HS-RESUME-4): when the sync state with the
    /// session's peer says it holds exactly the heads this node shared with it last, and nothing
    /// is in flight, the changes after those heads go as one DocChanges — no sync message
    /// re-describing the history, no answer — and the peer is then taken to hold this node's
    /// heads. Should it lack a dependency after all, it starts a sync itself (HS-RESUME-4).
    /// Returns false (nothing sent) when the state does not allow it.
    fn push_changes(&mut self, conn: ConnId, doc: &DocId) -> bool {
        let Some((peer, version)) = self.sessions.get(&conn).map(|s| (s.peer, s.version())) else {
            return false;
        };
        // DocChanges is a version-2 message; `_devices` never travels as one (HS-RESUME-4).
        if version < 2 || doc.is_devices() {
            return false;
        }
        let limit = self.doc_limit();
        let Some(loaded) = self.cache.get_mut(doc) else {
            return false;
        };
        let Some(state) = loaded.sync.get(&peer) else {
            return false;
        };
        let shared = state.shared_heads.clone();
        let settled_on_shared = state.their_heads.as_ref().is_none_or(|theirs| *theirs == shared);
        if shared.is_empty()
            || state.in_flight
            || !settled_on_shared
            || !shared.iter().all(|h| loaded.am.get_change_by_hash(h).is_some())
        {
            return false;
        }
        let bytes = loaded.am.save_after(&shared);
        if bytes.is_empty() {
            return true;
        }
        if bytes.len() > limit {
            // HS-SYNC-9: too many changes for one DocChanges; the sync step sends them bounded.
            return false;
        }
        // HS-SYNC-15: pushed again once the window has room (the state is left as it was).
        if !self.window_open(conn, doc, Waiting::Push) {
            return true;
        }
        let Some(loaded) = self.cache.get_mut(doc) else {
            return false;
        };
        let heads = loaded.heads();
        assume_peer_has(loaded.state(peer), &heads);
        loaded.sync_dirty.insert(peer);
        self.send_changes(conn, doc, heads, bytes);
        true
    }

    /// Sends a DocChanges that brings the peer to `heads`; outstanding (HS-SYNC-7) until the
    /// peer acknowledges it (HS-RESUME-4), as a DocWhole is (HS-SYNC-1).
    pub(crate) fn send_changes(
        &mut self,
        conn: ConnId,
        doc: &DocId,
        heads: Vec<humansync_protocol::ChangeHash>,
        bytes: Vec<u8>,
    ) {
        if let Some(session) = self.sessions.get_mut(&conn) {
            session.unacked.insert(doc.clone(), heads);
        }
        self.send(
            conn,
            &Message::DocChanges {
                doc: doc.clone(),
                bytes,
            },
        );
    }

    /// Starts the Automerge sync of `doc` with the session after reconciliation found that it
    /// differs (HS-RECON-4); `theirs` is the peer's digest of it.
    ///
    /// When the peer's digest is the digest of heads this node has been at — the heads it last
    /// shared with the peer, or the heads just before one of its recent changes — the peer holds
    /// exactly those heads (HS-SYNC-11): the first sync message then carries the changes the peer
    /// lacks instead of only announcing this node's heads, which saves a message each way.
    pub(crate) fn start_sync(&mut self, now: Instant, conn: ConnId, doc: &DocId, theirs: Option<DocDigest>) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        let Some(loaded) = self.cache.get_mut(doc) else {
            self.want_loaded(now, doc, DocOp::StartSync { conn, theirs });
            return;
        };
        if let Some(theirs) = theirs
            && loaded.sync.get(&peer).is_none_or(|s| s.their_heads.is_none())
        {
            let shared = loaded
                .sync
                .get(&peer)
                .map(|s| s.shared_heads.clone())
                .unwrap_or_default();
            if let Some(heads) = super::ancestry::heads_with_digest(&loaded.am, &shared, theirs) {
                assume_peer_has(loaded.state(peer), &heads);
            }
        }
        self.sync_step(now, conn, doc);
    }

    /// Generates and sends the next Automerge sync message for `doc` to the session (HS-SYNC-3).
    /// Returns whether a message was sent.
    pub(crate) fn sync_step(&mut self, now: Instant, conn: ConnId, doc: &DocId) -> bool {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return false;
        };
        let Some(loaded) = self.cache.get_mut(doc) else {
            self.want_loaded(now, doc, DocOp::StartSync { conn, theirs: None });
            return false;
        };
        loaded.last_used = now;
        let state = loaded.sync.entry(peer).or_default();
        let before = state.sent_hashes.clone();
        let message = loaded.am.generate_sync_message(state);
        let sent: BTreeSet<automerge::ChangeHash> = state.sent_hashes.difference(&before).copied().collect();
        // Settled once the peer has all our changes and we hold every head it announced (HS-SYNC-7).
        let theirs_known = state
            .their_heads
            .as_ref()
            .is_some_and(|heads| heads.iter().all(|h| loaded.am.get_change_by_hash(h).is_some()));
        let settled = loaded.am.has_our_changes(state) && theirs_known;
        loaded.sync_dirty.insert(peer);
        let Some(session) = self.sessions.get_mut(&conn) else {
            return false;
        };
        if settled {
            session.syncing.remove(doc);
        } else {
            session.syncing.insert(doc.clone());
        }
        let Some(message) = message else {
            return false;
        };
        // HS-SYNC-9: every DocSync within the bounds, a large set of changes in several.
        let limit = self.doc_limit();
        let parts = self
            .cache
            .get(doc)
            .map(|loaded| super::bounded_sync::encode_bounded(&loaded.am, message, &sent, limit));
        match parts {
            Some(Ok(parts)) => {
                for message in parts {
                    self.send(
                        conn,
                        &Message::DocSync {
                            doc: doc.clone(),
                            message,
                        },
                    );
                }
                true
            }
            // A single change too large for any message: this document cannot be synced, and
            // the peer stays not up to date with it (HS-SYNC-7).
            Some(Err(too_large)) => {
                self.emit(Event::DocTooLarge {
                    doc: doc.clone(),
                    bytes: too_large.bytes,
                });
                false
            }
            None => false,
        }
    }
}

/// Records in a sync state that the peer holds `heads` (it was just sent, or sent us, the whole
/// document), so the next change flows as a DocSync with no extra round trip (HS-SYNC-4).
///
/// Automerge keeps these hash lists sorted and deduplicated (`State::encode` asserts it), and
/// heads from a peer's DocWhole arrive in any order: sort them (found by the core_session fuzz
/// target).
pub(crate) fn assume_peer_has(state: &mut sync::State, heads: &[humansync_protocol::ChangeHash]) {
    let mut heads: Vec<automerge::ChangeHash> = heads.iter().map(|h| automerge::ChangeHash(h.0)).collect();
    heads.sort_unstable();
    heads.dedup();
    state.shared_heads = heads.clone();
    state.their_heads = Some(heads.clone());
    state.their_need = Some(Vec::new());
    state.their_have = Some(vec![sync::Have {
        last_sync: heads,
        bloom: sync::BloomFilter::default(),
    }]);
    state.in_flight = false;
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync_protocol::ChangeHash;

    #[test]
    fn assumed_heads_are_sorted_and_deduplicated() {
        // A peer's DocWhole may list its heads in any order, twice (HS-SYNC-1).
        let (a, b) = (ChangeHash([1; 32]), ChangeHash([2; 32]));
        let mut state = sync::State::new();
        assume_peer_has(&mut state, &[b, a, b]);
        let sorted = vec![automerge::ChangeHash([1; 32]), automerge::ChangeHash([2; 32])];
        assert_eq!(state.shared_heads, sorted);
        assert_eq!(state.their_heads.as_ref(), Some(&sorted));
        // Encoding checks the order (a debug assertion in automerge) and must round-trip.
        let decoded = sync::State::decode(&state.encode()).expect("encoded state decodes");
        assert_eq!(decoded.shared_heads, sorted);
    }
}
