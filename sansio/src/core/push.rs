//! Sending: framing, whole-document transfer, per-document Automerge sync steps and live push.

use automerge::ReadDoc;
use automerge::sync::{self, SyncDoc};
use humansync_protocol::{DocDigest, DocId, Message, encode_frame};

use super::Core;
use super::docs::DocOp;
use crate::{ConnId, Event, Instant, Output};

impl Core {
    /// Frames and queues `msg` for the session on `conn`.
    pub(crate) fn send(&mut self, conn: ConnId, msg: &Message) {
        let bytes = match encode_frame(msg) {
            Ok(bytes) => bytes,
            Err(_) => {
                // Only document payloads can outgrow the limits (HS-MSG-2): an over-limit
                // message is never sent (HS-FRAME-4, HS-SYNC-9's MUST NOT); report and skip.
                // HS-SYNC-9's fallback to DocSync is not implemented (SPEC.md §15.2).
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
    }

    /// Sends the saved bytes of `doc` whole (HS-SYNC-1) and records that the peer now holds its heads.
    pub(crate) fn send_whole_bytes(&mut self, conn: ConnId, doc: &DocId, bytes: Vec<u8>) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        let (heads, blobs) = match self.cache.get_mut(doc) {
            Some(loaded) => (loaded.heads(), loaded.blob_refs_now(None)),
            None => match self.metas.get(doc) {
                Some(meta) if !meta.tombstone => (meta.heads.clone(), meta.blobs.clone()),
                _ => return,
            },
        };
        if let Some(loaded) = self.cache.get_mut(doc) {
            assume_peer_has(loaded.state(peer), &heads);
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

    /// Live push of a changed document to one session (HS-SYNC-4): DocSync when the sync state
    /// with that peer knows shared heads, else the whole document.
    pub(crate) fn push_doc(&mut self, now: Instant, conn: ConnId, doc: &DocId) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
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

    /// Live push of only the new changes (HS-SYNC-4, HS-RESUME-4): when the sync state with the
    /// session's peer says it holds exactly the heads this node shared with it last, and nothing
    /// is in flight, the changes after those heads go as one DocChanges — no sync message
    /// re-describing the history, no answer — and the peer is then taken to hold this node's
    /// heads. Should it lack a dependency after all, it starts a sync itself (HS-RESUME-4).
    /// Returns false (nothing sent) when the state does not allow it.
    fn push_changes(&mut self, conn: ConnId, doc: &DocId) -> bool {
        let Some((peer, version)) = self.sessions.get(&conn).map(|s| (s.peer, s.version)) else {
            return false;
        };
        // DocChanges is a version-2 message; `_devices` never travels as one (HS-RESUME-4).
        if version < 2 || doc.is_devices() {
            return false;
        }
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
        let heads = loaded.heads();
        assume_peer_has(loaded.state(peer), &heads);
        loaded.sync_dirty.insert(peer);
        self.send(
            conn,
            &Message::DocChanges {
                doc: doc.clone(),
                bytes,
            },
        );
        true
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
    pub(crate) fn sync_step(&mut self, now: Instant, conn: ConnId, doc: &DocId) {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return;
        };
        let Some(loaded) = self.cache.get_mut(doc) else {
            self.want_loaded(now, doc, DocOp::StartSync { conn, theirs: None });
            return;
        };
        loaded.last_used = now;
        let state = loaded.sync.entry(peer).or_default();
        let message = loaded.am.generate_sync_message(state);
        // Settled once the peer has all our changes and we hold every head it announced (HS-SYNC-7).
        let theirs_known = state
            .their_heads
            .as_ref()
            .is_some_and(|heads| heads.iter().all(|h| loaded.am.get_change_by_hash(h).is_some()));
        let settled = loaded.am.has_our_changes(state) && theirs_known;
        loaded.sync_dirty.insert(peer);
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        if settled {
            session.syncing.remove(doc);
        } else {
            session.syncing.insert(doc.clone());
        }
        if let Some(message) = message {
            self.send(
                conn,
                &Message::DocSync {
                    doc: doc.clone(),
                    message: message.encode(),
                },
            );
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
