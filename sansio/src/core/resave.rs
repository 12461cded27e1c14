//! Writes the store refused (a full disk) are asked for again by the core itself (issue 20).
//!
//! A refused `SaveDoc` leaves the content in memory only (the document then stays cached: it is
//! never evicted unsaved); a refused `DeleteDoc` leaves the tombstone in memory only; a refused
//! whole document from a peer (stored without parsing) is kept here as it was asked for, and a
//! load of it is answered from it, not from the store that lacks it (which would read as a
//! corrupt document). Neither was
//! acknowledged, but both are already known here and may have reached peers, so the core writes
//! them again — after [`RESAVE_FIRST_MS`], doubling up to [`RESAVE_MAX_MS`] while the store keeps
//! refusing, at once again after any write it takes — until the store takes them. No app write
//! and no restart is needed once space returns.

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::DocId;

use super::Core;
use super::cache::PendingIo;
use crate::{Instant, IoAction};

/// The first delay before a refused write is asked for again.
pub(crate) const RESAVE_FIRST_MS: u64 = 1_000;
/// The longest delay between two attempts.
pub(crate) const RESAVE_MAX_MS: u64 = 8_000;

/// Documents whose last write the store refused, and when to try again.
#[derive(Debug, Default)]
pub(crate) struct Resave {
    /// Saves refused (the content is in the cache).
    saves: BTreeSet<DocId>,
    /// Tombstones refused.
    deletes: BTreeSet<DocId>,
    /// Whole documents from peers whose write was refused, as asked for (their bytes are
    /// nowhere else here).
    wholes: BTreeMap<DocId, IoAction>,
    due: Option<Instant>,
    delay_ms: u64,
}

impl Resave {
    /// A save of `doc` was refused.
    pub(crate) fn save_failed(&mut self, now: Instant, doc: &DocId) {
        self.saves.insert(doc.clone());
        self.schedule(now);
    }

    /// A tombstone of `doc` was refused.
    pub(crate) fn delete_failed(&mut self, now: Instant, doc: &DocId) {
        self.deletes.insert(doc.clone());
        self.schedule(now);
    }

    /// The write of a whole document from a peer was refused (`action` is that `SaveDoc`).
    pub(crate) fn whole_failed(&mut self, now: Instant, doc: DocId, action: IoAction) {
        self.wholes.insert(doc, action);
        self.schedule(now);
    }

    /// Whether a write of `doc` the store refused waits to be asked for again.
    pub(crate) fn refuses(&self, doc: &DocId) -> bool {
        self.saves.contains(doc) || self.deletes.contains(doc) || self.wholes.contains_key(doc)
    }

    /// True while a refused whole document is kept for `doc`.
    pub(crate) fn holds_whole(&self, doc: &DocId) -> bool {
        self.wholes.contains_key(doc)
    }

    /// The bytes of a refused whole document, for a load.
    pub(crate) fn whole_bytes(&self, doc: &DocId) -> Option<Vec<u8>> {
        match self.wholes.get(doc)? {
            IoAction::SaveDoc {
                write: Some(write), ..
            } => Some(write.bytes().to_vec()),
            _ => None,
        }
    }

    /// A newer whole document for `doc` is on its way to the store: the kept one is stale.
    pub(crate) fn whole_superseded(&mut self, doc: &DocId) {
        self.wholes.remove(doc);
    }

    /// The store took a write of `doc` (it holds what the core holds now, or newer): nothing
    /// of `doc` is to be written again; the next attempt for the others is not delayed.
    pub(crate) fn written(&mut self, now: Instant, doc: &DocId) {
        self.saves.remove(doc);
        self.deletes.remove(doc);
        self.wholes.remove(doc);
        self.write_done(now);
    }

    /// The store took a write: the next attempt is not delayed.
    fn write_done(&mut self, now: Instant) {
        self.delay_ms = 0;
        if self.due.is_some() {
            self.due = Some(now);
        }
    }

    fn schedule(&mut self, now: Instant) {
        if self.due.is_some() {
            return;
        }
        self.delay_ms = match self.delay_ms {
            0 => RESAVE_FIRST_MS,
            d => d.saturating_mul(2).min(RESAVE_MAX_MS),
        };
        self.due = Some(now.plus_ms(self.delay_ms));
    }

    /// How many documents wait for a write the store refused.
    pub(crate) fn len(&self) -> usize {
        let mut docs: BTreeSet<&DocId> = self.saves.iter().collect();
        docs.extend(&self.deletes);
        docs.extend(self.wholes.keys());
        docs.len()
    }

    /// When to try again.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.due
    }

    /// The refused saves and tombstones, once due.
    fn take_due(&mut self, now: Instant) -> Option<Due> {
        self.due.filter(|due| *due <= now)?;
        self.due = None;
        Some(Due {
            saves: std::mem::take(&mut self.saves),
            deletes: std::mem::take(&mut self.deletes),
            wholes: std::mem::take(&mut self.wholes),
        })
    }
}

/// The refused writes to ask for again now.
struct Due {
    saves: BTreeSet<DocId>,
    deletes: BTreeSet<DocId>,
    wholes: BTreeMap<DocId, IoAction>,
}

impl Core {
    /// How many documents wait for a write the store refused (a full disk); the core asks for
    /// them again by itself ([`crate::Wake::Resave`]).
    pub fn writes_refused(&self) -> usize {
        self.resave.len()
    }

    /// Asks again for the writes the store refused, once due.
    pub(crate) fn resave_tick(&mut self, now: Instant) {
        let Some(Due {
            saves,
            deletes,
            wholes,
        }) = self.resave.take_due(now)
        else {
            return;
        };
        let retried: Vec<DocId> = saves
            .iter()
            .chain(&deletes)
            .chain(wholes.keys())
            .cloned()
            .collect();
        for (doc, action) in wholes {
            let current = match &action {
                IoAction::SaveDoc { meta, .. } => self.metas.get(&doc) == Some(meta),
                _ => false,
            };
            if self.cache.get(&doc).is_some() {
                // Loaded since (from these bytes): saved from the cache below.
                self.save(now, &doc);
            } else if current {
                // Shares the write's bytes (`DocWrite`): no copy of the document.
                let kept = Box::new(action.clone());
                self.next_task(action, PendingIo::SaveWhole(doc, kept));
            }
            // Otherwise a later write or a delete superseded it.
        }
        for doc in saves {
            // Nothing to write when the document is gone or a later save took it.
            self.save(now, &doc);
        }
        for doc in deletes {
            if self.metas.get(&doc).is_some_and(|m| m.tombstone) {
                self.next_task(IoAction::DeleteDoc { doc: doc.clone() }, PendingIo::Delete(doc));
            }
        }
        // A refused write superseded by one the store took asks for nothing more (durable.rs).
        for doc in retried {
            self.release_if_durable(&doc);
        }
    }
}
