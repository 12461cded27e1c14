//! The change log of protocol version 2 (HS-RESUME-1): which documents changed since a point,
//! and what each peer is known to hold of its peers' logs.
//!
//! The log lives for one run of the node: `epoch` is random per start, every change to a
//! document's digest takes the next `seq`, and a restart begins a new log (so a sequence number
//! is never reused for different content, whatever the crash lost). For each changed document it
//! keeps the *base*: the heads it had when the last checkpoint (the newest `Synced` this node
//! sent) covered it. Changes after the base are what a peer holding that checkpoint lacks.

use std::collections::BTreeMap;

use humansync_protocol::{ChangeHash, Cursor, DeviceId, DocId, SetSummary};

/// A document's heads at a checkpoint, and the log position they were reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base {
    pub(crate) seq: u64,
    pub(crate) heads: Vec<ChangeHash>,
}

/// One document's place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The position of its latest change.
    seq: u64,
    /// Its heads at the checkpoint before its first change since; `None` when it did not exist
    /// then.
    base: Option<Base>,
}

/// What to send a peer for one document changed after its cursor (HS-RESUME-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Catchup {
    /// The changes after these heads, which the peer holds (DocChanges).
    ChangesAfter(Vec<ChangeHash>),
    /// The peer may not hold any version we can name: the whole document (DocWhole).
    Whole,
}

/// This node's change log and its cursors into peers' logs.
#[derive(Debug)]
pub(crate) struct ChangeLog {
    /// Random per start; 0 means resuming is off (HS-RESUME-1).
    epoch: u64,
    /// The newest position (0: nothing changed since start).
    last_seq: u64,
    /// The newest position sent in a `Synced`.
    checkpoint: u64,
    entries: BTreeMap<DocId, Entry>,
    /// Per peer, the position in its log up to which this node holds everything (persisted).
    cursors: BTreeMap<DeviceId, Cursor>,
    /// Synced messages whose set matched while our saves were still in flight: accepted once
    /// every save is durable, if the set still matches.
    pending: BTreeMap<DeviceId, (Cursor, SetSummary)>,
}

impl ChangeLog {
    pub(crate) fn new(epoch: u64, cursors: Vec<(DeviceId, Cursor)>) -> Self {
        ChangeLog {
            epoch,
            last_seq: 0,
            checkpoint: 0,
            entries: BTreeMap::new(),
            cursors: cursors.into_iter().collect(),
            pending: BTreeMap::new(),
        }
    }

    /// Whether this node keeps a log it can answer Resume from and send Synced for.
    pub(crate) fn enabled(&self) -> bool {
        self.epoch != 0
    }

    /// Records that `doc`'s digest changed; `old_heads` are its live heads before, if any.
    pub(crate) fn record(&mut self, doc: &DocId, old_heads: Option<&[ChangeHash]>) {
        let (old_seq, old_base) = match self.entries.remove(doc) {
            Some(entry) => (entry.seq, entry.base),
            // Unchanged since start: position 0, covered by every cursor of this log.
            None => (0, None),
        };
        let base = if old_seq <= self.checkpoint {
            // The state being replaced was covered by the newest checkpoint: it is the base.
            old_heads.map(|heads| Base {
                seq: old_seq,
                heads: heads.to_vec(),
            })
        } else {
            old_base
        };
        self.last_seq += 1;
        self.entries.insert(
            doc.clone(),
            Entry {
                seq: self.last_seq,
                base,
            },
        );
    }

    /// The current position, for a `Synced`; marks it as the newest checkpoint.
    pub(crate) fn checkpoint(&mut self) -> Cursor {
        self.checkpoint = self.last_seq;
        self.position()
    }

    /// The current position.
    pub(crate) fn position(&self) -> Cursor {
        Cursor {
            epoch: self.epoch,
            seq: self.last_seq,
        }
    }

    /// Every document changed after `cursor` and what to send for it, or `None` when the cursor
    /// is not a position of this log (another run, or ahead of it).
    pub(crate) fn changed_since(&self, cursor: &Cursor) -> Option<Vec<(DocId, Catchup)>> {
        if !self.enabled() || cursor.epoch != self.epoch || cursor.seq > self.last_seq {
            return None;
        }
        Some(
            self.entries
                .iter()
                .filter(|(_, e)| e.seq > cursor.seq)
                .map(|(doc, e)| {
                    let catchup = match &e.base {
                        Some(base) if base.seq <= cursor.seq => Catchup::ChangesAfter(base.heads.clone()),
                        _ => Catchup::Whole,
                    };
                    (doc.clone(), catchup)
                })
                .collect(),
        )
    }

    /// The position in `peer`'s log this node holds everything up to.
    pub(crate) fn cursor(&self, peer: &DeviceId) -> Option<Cursor> {
        self.cursors.get(peer).copied()
    }

    /// Whether a Synced waits to be accepted.
    pub(crate) fn has_parked(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Parks a peer's Synced (replacing an older one) until our set equals its set.
    pub(crate) fn park(&mut self, peer: DeviceId, cursor: Cursor, set: SetSummary) {
        self.pending.insert(peer, (cursor, set));
    }

    /// Accepts every parked cursor whose set equals `ours` (the caller checked that every write
    /// is durable): holding exactly the peer's set at that position proves we hold everything
    /// in its log up to it. Returns whether a cursor changed.
    pub(crate) fn accept_parked(&mut self, ours: &SetSummary) -> bool {
        let matching: Vec<DeviceId> = self
            .pending
            .iter()
            .filter(|(_, (_, set))| set == ours)
            .map(|(peer, _)| *peer)
            .collect();
        let mut changed = false;
        for peer in matching {
            if let Some((cursor, _)) = self.pending.remove(&peer) {
                changed |= self.cursors.insert(peer, cursor) != Some(cursor);
            }
        }
        changed
    }

    /// Forgets every cursor (a stored document was lost: what we held is no longer known).
    pub(crate) fn forget_cursors(&mut self) -> bool {
        self.pending.clear();
        let had = !self.cursors.is_empty();
        self.cursors.clear();
        had
    }

    /// Every cursor, for persisting.
    pub(crate) fn cursors(&self) -> Vec<(DeviceId, Cursor)> {
        self.cursors.iter().map(|(p, c)| (*p, *c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str) -> DocId {
        DocId::new(format!("notes/{name}")).expect("id")
    }

    fn heads(b: u8) -> Vec<ChangeHash> {
        vec![ChangeHash([b; 32])]
    }

    #[test]
    fn changes_after_a_checkpoint_are_sent_from_the_heads_it_covered() {
        let mut log = ChangeLog::new(7, Vec::new());
        log.record(&doc("a"), None); // created: seq 1
        let c1 = log.checkpoint();
        assert_eq!(c1.seq, 1);
        log.record(&doc("a"), Some(&heads(1))); // seq 2, base = heads 1 at seq 1
        log.record(&doc("a"), Some(&heads(2))); // seq 3, base kept
        log.record(&doc("b"), None); // created after the checkpoint
        let changed = log.changed_since(&c1).expect("known cursor");
        assert_eq!(
            changed,
            vec![
                (doc("a"), Catchup::ChangesAfter(heads(1))),
                (doc("b"), Catchup::Whole)
            ]
        );
        assert_eq!(log.changed_since(&log.position()), Some(Vec::new()));
    }

    #[test]
    fn documents_from_before_the_start_have_their_start_heads_as_base() {
        let mut log = ChangeLog::new(7, Vec::new());
        let start = log.position();
        log.record(&doc("old"), Some(&heads(9)));
        assert_eq!(
            log.changed_since(&start),
            Some(vec![(doc("old"), Catchup::ChangesAfter(heads(9)))])
        );
    }

    #[test]
    fn a_base_newer_than_the_cursor_means_the_whole_document() {
        let mut log = ChangeLog::new(7, Vec::new());
        let c0 = log.checkpoint();
        log.record(&doc("a"), Some(&heads(1))); // seq 1, base seq 0
        log.checkpoint(); // a later peer's checkpoint covers seq 1
        log.record(&doc("a"), Some(&heads(2))); // base moves to seq 1
        assert_eq!(log.changed_since(&c0), Some(vec![(doc("a"), Catchup::Whole)]));
    }

    #[test]
    fn foreign_or_future_cursors_are_unknown() {
        let mut log = ChangeLog::new(7, Vec::new());
        log.record(&doc("a"), None);
        assert_eq!(log.changed_since(&Cursor { epoch: 8, seq: 0 }), None);
        assert_eq!(log.changed_since(&Cursor { epoch: 7, seq: 2 }), None);
        let off = ChangeLog::new(0, Vec::new());
        assert_eq!(off.changed_since(&Cursor { epoch: 0, seq: 0 }), None);
    }
}
