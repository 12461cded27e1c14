//! Saving a loaded document at the cost of what changed (issue 22 §1b).
//!
//! Every change is saved as an increment — the new changes, appended to the stored bytes
//! (HS-SYNC-8) — and the document is saved whole again (compacted) only once the increments
//! outgrow the last whole save, as automerge-repo does: a one-character edit of a long text
//! writes ~100 bytes, and the whole-document save (tens of milliseconds on such a text) comes
//! once per hundreds of edits instead of once per 33.
//!
//! The index row lists the blobs the content references (HS-BLOB-1). Finding them walks the whole
//! document; it is done once per load, and a change is checked against the increment's bytes
//! instead: an increment can add a reference only by a string value spelled `hsblob:…`, which its
//! (uncompressed) change bytes then hold, so a document that referenced nothing still references
//! nothing when that spelling is absent. Any other case walks the document again.

use humansync_protocol::{BLOB_REF_PREFIX, BlobHash, DocId};

use super::Core;
use super::cache::{LoadedDoc, PendingIo, blob_refs};
use crate::{DocMeta, DocWrite, Heads, Instant, IoAction, IoTaskId};

/// Increments below this many bytes never compact (a small document's whole save is cheap, but
/// rewriting it on every edit is not needed either).
const COMPACT_MIN_BYTES: usize = 4096;

impl LoadedDoc {
    /// The write that makes the current content durable: the whole document when the store has
    /// none of it or the increments outgrew the last whole save, else the changes since the
    /// last save. Also returns those changes when they were computed (increments.rs).
    fn next_write(&mut self) -> (DocWrite, Option<Vec<u8>>) {
        if self.stored {
            let old: Vec<automerge::ChangeHash> = self
                .saved_heads
                .iter()
                .map(|h| automerge::ChangeHash(h.0))
                .collect();
            let increment = self.am.save_after(&old);
            let appended = self.appended_bytes + increment.len();
            if appended <= self.snapshot_bytes.max(COMPACT_MIN_BYTES) {
                self.appended_bytes = appended;
                return (DocWrite::Append(increment.clone().into()), Some(increment));
            }
            let whole = self.am.save();
            self.snapshot_bytes = whole.len();
            self.appended_bytes = 0;
            return (DocWrite::Replace(whole.into()), Some(increment));
        }
        let whole = self.am.save();
        self.snapshot_bytes = whole.len();
        self.appended_bytes = 0;
        (DocWrite::Replace(whole.into()), None)
    }

    /// The blobs the content references now (HS-BLOB-1). `increment`, when given, holds the
    /// changes since the heads the cached list was computed at.
    pub(crate) fn blob_refs_now(&mut self, increment: Option<&[u8]>) -> Vec<BlobHash> {
        let heads = self.heads();
        if self.refs_heads.as_ref() == Some(&heads) {
            return self.refs.clone();
        }
        let unchanged = self.refs_heads.is_some()
            && self.refs.is_empty()
            && increment.is_some_and(|bytes| !contains(bytes, BLOB_REF_PREFIX.as_bytes()));
        if !unchanged {
            self.refs = blob_refs(&self.am);
        }
        self.refs_heads = Some(heads);
        self.refs.clone()
    }
}

impl Core {
    /// Emits a SaveDoc for a loaded document if its content or sync states changed.
    pub(crate) fn save(&mut self, now: Instant, doc: &DocId) -> Option<IoTaskId> {
        let loaded = self.cache.get_mut(doc)?;
        loaded.last_used = now;
        let heads = loaded.heads();
        let content_changed = heads != loaded.saved_heads || !loaded.stored;
        if !content_changed && loaded.sync_dirty.is_empty() {
            return None;
        }
        // The cached references are as of the last save when `refs_heads` is `saved_heads`: only
        // then does an appended increment describe everything since.
        let refs_at_save = loaded.stored && loaded.refs_heads.as_ref() == Some(&loaded.saved_heads);
        let from = loaded.saved_heads.clone();
        let (write, increment) = match content_changed.then(|| loaded.next_write()) {
            Some((write, increment)) => (Some(write), increment),
            None => (None, None),
        };
        let sync_states = std::mem::take(&mut loaded.sync_dirty)
            .into_iter()
            .filter_map(|peer| loaded.sync.get(&peer).map(|s| (peer, s.encode())))
            .collect();
        let blobs = if doc.is_devices() {
            Vec::new()
        } else {
            let increment = match &write {
                Some(DocWrite::Append(bytes)) if refs_at_save => Some(&bytes[..]),
                _ => None,
            };
            loaded.blob_refs_now(increment)
        };
        loaded.saved_heads = heads.clone();
        loaded.stored = true;
        let meta = DocMeta {
            heads: Heads::from_slice(&heads),
            blobs: blobs.into(),
            tombstone: false,
        };
        if let Some(increment) = increment.filter(|_| !doc.is_devices()) {
            self.increments.record(doc, &from, &meta.heads, &increment);
        }
        let action = IoAction::SaveDoc {
            doc: doc.clone(),
            write,
            meta,
            sync_states,
        };
        Some(self.next_task(action, PendingIo::Save(doc.clone())))
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
