//! Blob retention in the core (HS-BLOB-4): reference counts and pins decide, the pure
//! [`crate::retention::Retention`] times, the runtime releases.

use humansync_protocol::BlobHash;

use super::Core;
use super::cache::PendingIo;
use crate::{Instant, IoAction, IoResult};

/// What the core knows about the blobs it holds (for stats; sizes are the runtime's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobRetention {
    /// Blobs held complete.
    pub held: Vec<BlobHash>,
    /// Held blobs no live document references and not pinned: released when their grace
    /// period ends.
    pub pending: Vec<BlobHash>,
    /// Blobs the app pinned (held or not).
    pub pinned: Vec<BlobHash>,
    /// Blobs released since start.
    pub released: u64,
    /// The grace period in milliseconds.
    pub grace_ms: u64,
}

impl Core {
    /// Pins `hash` (HS-BLOB-4): it is never released while pinned, referenced or not. The runtime
    /// persists pins and hands them back in [`crate::Startup::pinned_blobs`].
    pub fn pin_blob(&mut self, now: Instant, hash: BlobHash) {
        let _ = now;
        self.retention.pin(hash);
    }

    /// Unpins `hash`: if no live document references it, its grace period starts now.
    pub fn unpin_blob(&mut self, now: Instant, hash: BlobHash) {
        let _ = now;
        self.retention.unpin(&hash);
    }

    /// Whether `hash` is held complete (and not released).
    pub fn holds_blob(&self, hash: &BlobHash) -> bool {
        self.blobs.local.contains(hash)
    }

    /// Held, pending and pinned blobs and the release count (HS-BLOB-4).
    pub fn blob_retention(&self) -> BlobRetention {
        BlobRetention {
            held: self.blobs.local.iter().copied().collect(),
            pending: self.retention.pending().copied().collect(),
            pinned: self.retention.pinned().copied().collect(),
            released: self.retention.collected(),
            grace_ms: self.retention.grace_ms(),
        }
    }

    /// Every blob the store must keep right now: held and not released, referenced (complete or
    /// partial, so an interrupted fetch can resume), or pinned. A runtime whose store collects
    /// garbage by itself protects these (HS-BLOB-4).
    pub fn blobs_to_keep(&self) -> std::collections::BTreeSet<BlobHash> {
        self.blobs
            .local
            .iter()
            .chain(self.blobs.referenced())
            .chain(self.retention.pinned())
            .copied()
            .collect()
    }

    /// Whether a document is in flight whose references are not known yet: a session still in its
    /// handshake, reconciliation or an exchange (HS-SYNC-7), or a received document waiting to be
    /// applied or indexed. Nothing is released then (HS-BLOB-4).
    fn refs_in_flight(&self) -> bool {
        self.cache.refs_pending() || self.sessions.values().any(|s| !(s.is_open() && s.is_settled()))
    }

    /// Brings retention up to date and releases the blobs whose grace period ended (HS-BLOB-4).
    pub(crate) fn retention_tick(&mut self, now: Instant) {
        let in_flight = self.refs_in_flight();
        let blobs = &self.blobs;
        let verdict = self
            .retention
            .tick(now, &blobs.local, |h| blobs.is_referenced(h), in_flight);
        for hash in verdict.collect {
            // From now on a BlobWant is answered without it (HS-BLOB-4).
            self.blobs.local.remove(&hash);
            self.blobs.releasing.insert(hash);
            self.next_task(IoAction::ReleaseBlob { hash }, PendingIo::Release(hash));
        }
        if verdict.ages_changed {
            let ages = self.retention.ages(now);
            self.next_task(IoAction::SaveBlobAges { ages }, PendingIo::Ages);
        }
    }

    /// The runtime released a blob, or could not.
    pub(crate) fn release_done(&mut self, hash: BlobHash, result: &IoResult) {
        self.blobs.releasing.remove(&hash);
        if !matches!(result, IoResult::Done) {
            // Still in the store: held again, and looked at again.
            self.blobs.local.insert(hash);
            self.retention.touch();
            return;
        }
        // Referenced again meanwhile: ask for it anew (fetches waited for the release).
        if self.blobs.is_referenced(&hash) {
            self.blobs.forget_announced(&hash);
            self.announce_wants();
        }
    }
}
