//! Received changes applied at the cost of their bytes (issue 22 §1): a `DocChanges` for a
//! stored document that is not loaded, whose changes build on the stored heads alone, is
//! appended to the stored document without parsing it (HS-RESUME-4, HS-SYNC-12).
//!
//! The bytes are checked within the bounds first, like every peer's Automerge bytes, and their
//! change graph is read from the chunks ([`crate::untrusted::heads_after`]): every change
//! depends only on the stored heads or on earlier changes of the message, so Automerge applies
//! them all when the document is next loaded, and the heads after them are known without it.
//! The index row, the set digest and the change log take those heads at once; the sender's
//! sync state records that it holds them (it sent them); the acknowledgement goes out as for
//! an applied DocChanges. A change Automerge would refuse once parsed (a sequence number used
//! twice, operations on objects that do not exist) is dropped at that load, never the
//! document ([`crate::untrusted::load_salvaging`]), which is then rewritten whole.
//!
//! The document is marked unverified, as one stored whole unparsed is: its stored bytes are
//! parsed once before they leave this node (HS-SYNC-12).
//!
//! The document is parsed instead (loaded and merged as before) when it is loaded or loading
//! already, references blobs or may come to (its index row lists the references the content
//! holds, HS-BLOB-1), has a write the store refused, or when the changes must be forwarded to
//! another open session: bytes leave this node only once parsed here (HS-SYNC-12).

use std::collections::BTreeSet;

use automerge::sync;
use humansync_protocol::{BLOB_REF_PREFIX, DocId};

use super::Core;
use super::cache::{DocOp, PendingIo};
use crate::{ConnId, DocMeta, DocWrite, Event, Heads, Instant, IoAction, Origin};

/// Documents whose unparsed append the store refused: parsed from then on until a write of
/// theirs is taken again (the refused bytes are merged at the load, [`DocOp::Reapply`]).
#[derive(Debug, Default)]
pub(crate) struct RefusedAppends(BTreeSet<DocId>);

impl RefusedAppends {
    pub(crate) fn insert(&mut self, doc: DocId) {
        self.0.insert(doc);
    }

    pub(crate) fn contains(&self, doc: &DocId) -> bool {
        self.0.contains(doc)
    }

    pub(crate) fn remove(&mut self, doc: &DocId) {
        self.0.remove(doc);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Core {
    /// Applies a DocChanges by appending it to the stored document unparsed, when that is known
    /// to be safe (module docs). Returns false, having done nothing, when the document must be
    /// parsed instead.
    pub(crate) fn append_changes(&mut self, now: Instant, conn: ConnId, doc: &DocId, bytes: &[u8]) -> bool {
        let Some(peer) = self.sessions.get(&conn).map(|s| s.peer) else {
            return false;
        };
        let Some(meta) = self.metas.get(doc).filter(|m| !m.tombstone && m.blobs.is_empty()) else {
            return false;
        };
        if self.cache.get(doc).is_some()
            || self.cache.loading.contains_key(doc)
            || self.resave.holds_whole(doc)
            || self.refused_appends.contains(doc)
            || self.open_conns().any(|c| c != conn)
            || contains(bytes, BLOB_REF_PREFIX.as_bytes())
        {
            return false;
        }
        let heads = match crate::untrusted::heads_after(bytes, &meta.heads) {
            Ok(Some(heads)) => heads,
            Ok(None) => return false,
            Err(e) => {
                // HS-SYNC-10, HS-SYNC-12: as the parse would.
                let reason = format!("DocChanges for {doc} refused: {e}");
                self.reject_bytes(now, conn, doc, reason);
                return true;
            }
        };
        let meta = DocMeta {
            heads: Heads::from_slice(&heads),
            blobs: Box::default(),
            tombstone: false,
        };
        self.index_doc(doc, meta.clone());
        self.note_handshake_change(doc);
        // HS-SYNC-12: parsed once before the stored bytes are forwarded.
        self.unverified.entry(doc.clone()).or_insert(peer);
        // The sender holds these heads (it sent them): its next change comes as DocChanges, and
        // ours go to it from there (HS-SYNC-4).
        let mut state = sync::State::new();
        super::push::assume_peer_has(&mut state, &heads);
        // One buffer for the write and the copy kept until the store answers.
        let bytes = bytes::Bytes::copy_from_slice(bytes);
        let action = IoAction::SaveDoc {
            doc: doc.clone(),
            write: Some(DocWrite::Append(bytes.clone())),
            meta,
            sync_states: vec![(peer, state.encode())],
        };
        self.io_counts.appends += 1;
        self.next_task(action, PendingIo::Append(doc.clone(), bytes));
        self.emit(Event::DocChanged {
            doc: doc.clone(),
            origin: Origin::Remote(peer),
        });
        // HS-RESUME-4: acknowledged with the heads after the changes.
        self.acknowledge_whole(conn, doc, &heads);
        true
    }

    /// The store refused an unparsed append (a full disk): the document is loaded, the bytes
    /// merged and the whole saved from the cache, which the resave policy repeats until the
    /// store takes it (resave.rs).
    pub(crate) fn append_refused(&mut self, now: Instant, doc: DocId, bytes: bytes::Bytes) {
        self.refused_appends.insert(doc.clone());
        if self.metas.get(&doc).is_some_and(|m| !m.tombstone) {
            self.want_loaded(now, &doc, DocOp::Reapply { bytes });
        }
    }

    /// Merges the bytes of a refused append into the loaded document and saves it whole.
    pub(crate) fn reapply(&mut self, now: Instant, doc: &DocId, bytes: &[u8]) {
        let Some(loaded) = self.cache.get_mut(doc) else {
            return;
        };
        // Checked when received; a refusal now leaves the document as stored.
        let _ = crate::untrusted::load_incremental(&mut loaded.am, bytes);
        loaded.stored = false;
        loaded.saved_heads.clear();
        self.doc_updated(now, doc, None);
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
