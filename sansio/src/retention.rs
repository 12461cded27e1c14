//! Blob retention (HS-BLOB-4): which blobs held here may be deleted, and when.
//!
//! A node holds blobs complete in its store. A held blob is **kept** while the index row of a
//! live document references it (its reference count is not zero), or while the app has pinned
//! it. Otherwise it is **unreferenced**, and its grace period runs from the moment it became so.
//! When the grace period has ended *and* no document is in flight whose references are not yet
//! known (a received document not applied yet, a whole document not indexed yet, an exchange
//! outstanding with a peer), the blob is **collected**: the node stops answering for it
//! (a BlobWant is answered without it) and the runtime deletes its bytes.
//!
//! ```text
//!             refcount → 0, not pinned
//!   kept ──────────────────────────────────▶ unreferenced { due = now + grace }
//!     ▲                                          │              │
//!     └──── referenced again, or pinned ─────────┘              │ due ≤ now,
//!                                                               │ nothing in flight
//!                                                               ▼
//!                                                           collected
//! ```
//!
//! The grace period survives restarts: the runtime persists each unreferenced blob's *age*
//! (how long it has been unreferenced, [`Retention::ages`]) and hands the ages back at start-up
//! ([`Retention::new`]); a blob older than the grace period is collected at the first quiet
//! moment, a younger one when the rest of its grace period has passed.
//!
//! This module is pure: it never reads a clock, `now` is passed in. It decides; the core asks the
//! runtime to act ([`crate::IoAction::ReleaseBlob`], [`crate::IoAction::SaveBlobAges`]).
//!
//! # Driving contract
//! Call [`Retention::touch`] whenever the held blobs, the references or the pins change; then
//! call [`Retention::tick`] no later than [`Retention::next_wake`] with the current held set, a
//! predicate saying whether a hash is referenced, and whether anything is in flight. The tick
//! returns what to collect now and whether the persisted ages changed.

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::BlobHash;
use humansync_protocol::limits::BLOB_RETENTION_RECHECK_MS;

use crate::Instant;

/// The retention state of one node's blobs. See the module docs for the driving contract.
#[derive(Debug, Clone)]
pub struct Retention {
    grace_ms: u64,
    /// Unreferenced held blobs, by the instant their grace period ends.
    unreferenced: BTreeMap<BlobHash, Instant>,
    pinned: BTreeSet<BlobHash>,
    /// Something changed since the last tick: tick at once.
    stale: bool,
    /// Blobs were due while something was in flight: look again then.
    recheck_at: Option<Instant>,
    /// Blobs collected since start.
    collected: u64,
}

/// What one [`Retention::tick`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Held blobs to delete now (their grace period ended, nothing in flight).
    pub collect: Vec<BlobHash>,
    /// The set of unreferenced blobs changed: persist [`Retention::ages`].
    pub ages_changed: bool,
}

impl Retention {
    /// A retention state with a grace period of `grace_ms`, the app's pins and the persisted
    /// ages (milliseconds each blob had been unreferenced when they were saved, plus the time the
    /// node was down, as the runtime measures it). Ages of blobs that turn out referenced or no
    /// longer held are dropped at the first tick.
    pub fn new(
        now: Instant,
        grace_ms: u64,
        pinned: impl IntoIterator<Item = BlobHash>,
        ages: impl IntoIterator<Item = (BlobHash, u64)>,
    ) -> Self {
        let unreferenced: BTreeMap<BlobHash, Instant> = ages
            .into_iter()
            .map(|(hash, age)| (hash, now.plus_ms(grace_ms.saturating_sub(age))))
            .collect();
        let pinned: BTreeSet<BlobHash> = pinned.into_iter().collect();
        Retention {
            grace_ms,
            stale: !unreferenced.is_empty(),
            unreferenced,
            pinned,
            recheck_at: None,
            collected: 0,
        }
    }

    /// The grace period, in milliseconds.
    pub fn grace_ms(&self) -> u64 {
        self.grace_ms
    }

    /// Held blobs, references or pins changed: the next tick is due at once.
    pub fn touch(&mut self) {
        self.stale = true;
    }

    /// Pins `hash`: it is never collected until unpinned. Returns whether it was not pinned.
    pub fn pin(&mut self, hash: BlobHash) -> bool {
        self.stale = true;
        self.pinned.insert(hash)
    }

    /// Unpins `hash`: if held and unreferenced, its grace period starts at the next tick.
    /// Returns whether it was pinned.
    pub fn unpin(&mut self, hash: &BlobHash) -> bool {
        self.stale = true;
        self.pinned.remove(hash)
    }

    /// Whether the app pinned `hash`.
    pub fn is_pinned(&self, hash: &BlobHash) -> bool {
        self.pinned.contains(hash)
    }

    /// The pinned hashes.
    pub fn pinned(&self) -> impl Iterator<Item = &BlobHash> {
        self.pinned.iter()
    }

    /// Held blobs waiting for their grace period to end (or for a quiet moment).
    pub fn pending(&self) -> impl Iterator<Item = &BlobHash> {
        self.unreferenced.keys()
    }

    /// Blobs collected since start.
    pub fn collected(&self) -> u64 {
        self.collected
    }

    /// How long each unreferenced blob has been so at `now`, in milliseconds: what the runtime
    /// persists.
    pub fn ages(&self, now: Instant) -> Vec<(BlobHash, u64)> {
        self.unreferenced
            .iter()
            .map(|(hash, due)| (*hash, now.0.saturating_add(self.grace_ms).saturating_sub(due.0)))
            .collect()
    }

    /// The instant the next tick is due: at once after a change ([`Instant`] 0, already past),
    /// else when the earliest grace period ends or a held-back collection is looked at again.
    pub fn next_wake(&self) -> Option<Instant> {
        if self.stale {
            return Some(Instant(0));
        }
        let due = self.unreferenced.values().min().copied();
        match (due, self.recheck_at) {
            (Some(due), Some(recheck)) => Some(due.max(recheck)),
            (due, _) => due,
        }
    }

    /// Brings the state up to date at `now` and decides what to collect.
    ///
    /// `held` are the blobs complete in the store; `referenced(h)` is true while a live
    /// document's index row references `h`; `in_flight` is true while any document whose
    /// references are not yet known is being received, applied or indexed — nothing is collected
    /// then, and the due blobs are looked at again [`BLOB_RETENTION_RECHECK_MS`] later.
    pub fn tick(
        &mut self,
        now: Instant,
        held: &BTreeSet<BlobHash>,
        referenced: impl Fn(&BlobHash) -> bool,
        in_flight: bool,
    ) -> Verdict {
        let mut verdict = Verdict::default();
        if self.stale {
            self.stale = false;
            let before = self.unreferenced.len();
            // Referenced again, pinned, or gone from the store: no longer waiting.
            let pinned = &self.pinned;
            self.unreferenced
                .retain(|h, _| held.contains(h) && !referenced(h) && !pinned.contains(h));
            let mut changed = self.unreferenced.len() != before;
            for hash in held {
                if !referenced(hash) && !self.pinned.contains(hash) && !self.unreferenced.contains_key(hash) {
                    self.unreferenced.insert(*hash, now.plus_ms(self.grace_ms));
                    changed = true;
                }
            }
            verdict.ages_changed = changed;
        }
        let due: Vec<BlobHash> = self
            .unreferenced
            .iter()
            .filter(|(_, due)| **due <= now)
            .map(|(h, _)| *h)
            .collect();
        if due.is_empty() {
            self.recheck_at = None;
            return verdict;
        }
        if in_flight {
            self.recheck_at = Some(now.plus_ms(BLOB_RETENTION_RECHECK_MS));
            return verdict;
        }
        self.recheck_at = None;
        for hash in &due {
            self.unreferenced.remove(hash);
        }
        self.collected = self.collected.saturating_add(due.len() as u64);
        verdict.collect = due;
        verdict.ages_changed = true;
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: u64 = 10_000;

    fn h(b: u8) -> BlobHash {
        BlobHash([b; 32])
    }

    fn held(hashes: &[u8]) -> BTreeSet<BlobHash> {
        hashes.iter().map(|b| h(*b)).collect()
    }

    /// HS-BLOB-4: unreferenced at t, collected at t + grace and not a millisecond before.
    #[test]
    fn collected_when_the_grace_period_ends() {
        let mut r = Retention::new(Instant(0), GRACE, [], []);
        assert_eq!(r.next_wake(), None);
        r.touch();
        let v = r.tick(Instant(5), &held(&[1]), |_| false, false);
        assert_eq!(
            v,
            Verdict {
                collect: vec![],
                ages_changed: true
            }
        );
        assert_eq!(r.next_wake(), Some(Instant(5 + GRACE)));
        assert!(
            r.tick(Instant(5 + GRACE - 1), &held(&[1]), |_| false, false)
                .collect
                .is_empty()
        );
        let v = r.tick(Instant(5 + GRACE), &held(&[1]), |_| false, false);
        assert_eq!(v.collect, vec![h(1)]);
        assert!(v.ages_changed);
        assert_eq!(r.collected(), 1);
        assert_eq!(r.next_wake(), None);
    }

    /// HS-BLOB-4: a referenced blob and a pinned blob are never collected; referencing an
    /// unreferenced blob again stops its grace period, and unpinning starts it.
    #[test]
    fn referenced_and_pinned_blobs_are_kept() {
        let mut r = Retention::new(Instant(0), GRACE, [h(2)], []);
        r.touch();
        let refs = |x: &BlobHash| *x == h(1);
        r.tick(Instant(0), &held(&[1, 2, 3]), refs, false);
        assert_eq!(r.pending().copied().collect::<Vec<_>>(), vec![h(3)]);
        // 3 is referenced again before its grace period ends.
        r.touch();
        let refs13 = |x: &BlobHash| *x == h(1) || *x == h(3);
        let v = r.tick(Instant(GRACE / 2), &held(&[1, 2, 3]), refs13, false);
        assert!(v.ages_changed && r.pending().next().is_none());
        let v = r.tick(Instant(GRACE * 5), &held(&[1, 2, 3]), refs13, false);
        assert!(v.collect.is_empty());
        // 2 unpinned at 5·grace: collected a grace period later.
        assert!(r.unpin(&h(2)));
        r.tick(Instant(GRACE * 5), &held(&[1, 2, 3]), refs13, false);
        assert!(
            r.tick(Instant(GRACE * 6 - 1), &held(&[1, 2, 3]), refs13, false)
                .collect
                .is_empty()
        );
        assert_eq!(
            r.tick(Instant(GRACE * 6), &held(&[1, 2, 3]), refs13, false)
                .collect,
            vec![h(2)]
        );
    }

    /// HS-BLOB-4: nothing is collected while a document is in flight; looked at again later.
    #[test]
    fn held_back_while_documents_are_in_flight() {
        let mut r = Retention::new(Instant(0), GRACE, [], []);
        r.touch();
        r.tick(Instant(0), &held(&[1]), |_| false, false);
        let v = r.tick(Instant(GRACE), &held(&[1]), |_| false, true);
        assert!(v.collect.is_empty());
        assert_eq!(r.next_wake(), Some(Instant(GRACE + BLOB_RETENTION_RECHECK_MS)));
        let later = Instant(GRACE + BLOB_RETENTION_RECHECK_MS);
        assert_eq!(r.tick(later, &held(&[1]), |_| false, false).collect, vec![h(1)]);
    }

    /// HS-BLOB-4: ages survive a restart — a restart neither resets the grace period nor ends it
    /// early; ages of blobs referenced again or gone are dropped.
    #[test]
    fn ages_survive_a_restart() {
        let mut r = Retention::new(Instant(0), GRACE, [], []);
        r.touch();
        r.tick(Instant(1_000), &held(&[1, 2]), |_| false, false);
        let ages = r.ages(Instant(4_000));
        assert_eq!(ages, vec![(h(1), 3_000), (h(2), 3_000)]);
        // Down for 2 s; the new process's clock starts at 0 again.
        let aged: Vec<(BlobHash, u64)> = ages.into_iter().map(|(x, a)| (x, a + 2_000)).collect();
        let mut r = Retention::new(Instant(0), GRACE, [], aged.clone());
        assert_eq!(r.next_wake(), Some(Instant(0)));
        let v = r.tick(Instant(0), &held(&[1, 2]), |x| *x == h(2), false);
        assert!(v.ages_changed && v.collect.is_empty());
        assert_eq!(r.next_wake(), Some(Instant(GRACE - 5_000)));
        assert!(
            r.tick(Instant(GRACE - 5_001), &held(&[1, 2]), |x| *x == h(2), false)
                .collect
                .is_empty()
        );
        assert_eq!(
            r.tick(Instant(GRACE - 5_000), &held(&[1, 2]), |x| *x == h(2), false)
                .collect,
            vec![h(1)]
        );
        // Older than the grace period: collected at the first quiet tick.
        let mut r = Retention::new(Instant(0), GRACE, [], [(h(1), GRACE * 3)]);
        assert_eq!(
            r.tick(Instant(0), &held(&[1]), |_| false, false).collect,
            vec![h(1)]
        );
        // A persisted age for a blob no longer held is forgotten.
        let mut r = Retention::new(Instant(0), GRACE, [], [(h(9), 1)]);
        assert!(r.tick(Instant(0), &held(&[]), |_| false, false).ages_changed);
        assert!(r.ages(Instant(0)).is_empty());
    }
}
