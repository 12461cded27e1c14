//! Corrupt document files are moved aside, reported, and never read again by the store.
//!
//! A quarantined document reads as [`StoreError::Quarantined`] until a later write replaces it
//! (the core recovers it from a peer with a whole-document `Replace`). The move itself is not
//! fsynced: if it is lost in a crash, the next load finds the same corrupt file and quarantines it
//! again; the fact is logged (as `PhysOp::Forget`) with the next batch or checkpoint.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use humansync_protocol::DocId;

use super::DocStore;
use super::error::StoreError;
use super::index::EntryState;
use super::layout::Layout;
use super::wal::PhysOp;

/// A document file moved aside because it failed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineReport {
    /// The document, when known (a file whose id record is unreadable names none).
    pub doc: Option<DocId>,
    /// Where the file now is, `None` when there was no file to move.
    pub moved_to: Option<PathBuf>,
    /// What check failed.
    pub reason: String,
}

/// Quarantines since the last logged batch, and every report since open.
#[derive(Debug, Default)]
pub(crate) struct Quarantine {
    /// Quarantined, not logged yet.
    pub(crate) pending: BTreeSet<DocId>,
    /// Reports since open, oldest first.
    pub(crate) reports: Vec<QuarantineReport>,
}

/// Moves `path` to the first free quarantine slot for `key`; `None` if there was no file.
pub(crate) fn move_aside(layout: &Layout, key: &str, path: &Path) -> io::Result<Option<PathBuf>> {
    for n in 0u64.. {
        let dest = layout.quarantine_path(key, n);
        match std::fs::symlink_metadata(&dest) {
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        return match std::fs::rename(path, &dest) {
            Ok(()) => Ok(Some(dest)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
    }
    Err(io::Error::other("no free quarantine slot"))
}

impl DocStore {
    /// Moves `doc`'s file to the quarantine directory and records a report, e.g. after the runtime
    /// saw `Event::DocCorrupt` for bytes whose checksums were fine but that Automerge refused.
    /// Later loads return [`StoreError::Quarantined`] until a write replaces the document.
    pub fn quarantine(&self, doc: &DocId, reason: &str) {
        let _ = self.quarantine_doc(doc, reason.to_owned());
    }

    /// Documents quarantined and not rewritten since.
    pub fn quarantined(&self) -> Vec<DocId> {
        let pending = self.lock_quarantine().pending.clone();
        let logged = self
            .index
            .iter()
            .filter(|(_, s)| **s == EntryState::Quarantined)
            .map(|(d, _)| d.clone());
        let mut all: BTreeSet<DocId> = logged.collect();
        all.extend(pending);
        all.into_iter().collect()
    }

    /// Every quarantine since the store was opened, oldest first (including files found corrupt
    /// while rebuilding the index).
    pub fn quarantine_reports(&self) -> Vec<QuarantineReport> {
        self.lock_quarantine().reports.clone()
    }

    /// Moves the file aside, records the report, and returns the error a load reports.
    pub(crate) fn quarantine_doc(&self, doc: &DocId, reason: String) -> StoreError {
        let mut q = self.lock_quarantine();
        if q.pending.contains(doc) || self.index.get(doc) == Some(&EntryState::Quarantined) {
            return StoreError::Quarantined(doc.clone());
        }
        let key = self.layout.file_key(doc);
        let moved_to = match move_aside(&self.layout, &key, &self.layout.doc_path(doc)) {
            Ok(moved) => moved,
            Err(e) => {
                tracing::error!(%doc, error = %e, "could not move a corrupt file to quarantine");
                None
            }
        };
        tracing::error!(%doc, %reason, moved_to = ?moved_to, "document quarantined");
        q.pending.insert(doc.clone());
        q.reports.push(QuarantineReport {
            doc: Some(doc.clone()),
            moved_to,
            reason: reason.clone(),
        });
        StoreError::Corrupt {
            doc: doc.clone(),
            reason,
        }
    }

    /// True while `doc` is quarantined but not logged yet.
    pub(crate) fn is_pending_quarantine(&self, doc: &DocId) -> bool {
        self.lock_quarantine().pending.contains(doc)
    }

    /// `Forget` ops for the quarantines not logged yet.
    pub(crate) fn pending_forgets(&self) -> Vec<PhysOp> {
        let q = self.lock_quarantine();
        q.pending
            .iter()
            .map(|doc| PhysOp::Forget { doc: doc.clone() })
            .collect()
    }

    pub(crate) fn lock_quarantine(&self) -> std::sync::MutexGuard<'_, Quarantine> {
        // A panic while holding the lock cannot leave the sets half-updated in a way that
        // matters (each update is one insert or push), so a poisoned lock is still usable.
        self.quarantine.lock().unwrap_or_else(|e| e.into_inner())
    }
}
