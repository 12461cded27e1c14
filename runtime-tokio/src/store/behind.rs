//! Surviving a failed write without a restart (a full disk, issue 20).
//!
//! Two kinds of failure, told apart by what is known to be durable:
//! - **Files behind the log.** A batch is durable in the log (acknowledged), then writing a
//!   document file fails (`ENOSPC`, a quota). Nothing is unknown: the ops not performed yet are
//!   kept in order ([`DocStore::behind`]) and performed again, idempotently (ops carry absolute
//!   offsets and whole files), before the next write, checkpoint or close. Until then a load of
//!   one of their documents is served from the file plus those ops in memory, exactly what the
//!   file will hold, so a file cut by the failed write is never read as corrupt.
//! - **Durability unknown** (a failed sync, a checkpoint interrupted after its sync). The store is
//!   marked poisoned and, at the next write or checkpoint, recovers as a reopen would, without
//!   closing: the log is cut back to what was acknowledged and re-read from disk, every committed
//!   batch is performed again, and a checkpoint makes the files durable. Until that succeeds,
//!   writes fail with the error of the last attempt and acknowledge nothing.
//!
//! A write the store refuses was never logged: an error from [`DocStore::apply`] means the batch
//! did not happen on disk.

use std::io;

use humansync_protocol::DocId;

use super::DocStore;
use super::docfile;
use super::error::StoreError;
use super::index::EntryState;
use super::layout;
use super::load::Loaded;
use super::wal::{PhysOp, Wal};

impl DocStore {
    /// Brings the files up to the log: recovers a poisoned store, then performs the ops left
    /// behind by a failed file write. `Ok` once nothing is behind.
    pub(crate) fn catch_up(&mut self) -> Result<(), StoreError> {
        if let Some(reason) = self.poisoned.clone() {
            self.recover_poisoned(&reason)?;
        }
        while let Some(op) = self.behind.pop_front() {
            if let Err(e) = self.perform(&op) {
                self.behind.push_front(op);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Performs `ops` (logged durably) on the files; those that fail stay behind, in order.
    pub(crate) fn perform_or_defer(&mut self, ops: &[PhysOp]) {
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = self.perform(op) {
                tracing::warn!(error = %e, left = ops.len() - i, "document file write failed; the log holds the batch, retried at the next write");
                self.behind.extend(ops[i..].iter().cloned());
                return;
            }
        }
    }

    /// True while logged ops are not yet in the files, or the store must recover.
    pub fn is_behind(&self) -> bool {
        !self.behind.is_empty() || self.poisoned.is_some()
    }

    /// Reopens the log, replays it and checkpoints, as `open` does (see the module docs).
    fn recover_poisoned(&mut self, reason: &str) -> Result<(), StoreError> {
        tracing::warn!(%reason, "recovering the store after an earlier failure");
        self.wal
            .cut_back(&self.stats)
            .map_err(|e| StoreError::io("cut back", &self.layout.wal, e))?;
        let (wal, recovered) = Wal::open(&self.layout.wal, self.sealer.clone(), &self.stats)?;
        self.wal = wal;
        // Everything behind is in the log again: the replay performs it.
        self.behind.clear();
        self.replay(recovered.ops)?;
        self.poisoned = None;
        self.checkpoint()?;
        tracing::info!("store recovered");
        Ok(())
    }

    /// `doc` as the log says it is while some of its ops are behind: the file with those ops
    /// applied in memory. `None` when nothing of `doc` is behind.
    pub(crate) fn load_behind(&self, doc: &DocId) -> Option<Result<Option<Loaded>, StoreError>> {
        let ops: Vec<&PhysOp> = self.behind.iter().filter(|op| op.doc() == doc).collect();
        if ops.is_empty() {
            return None;
        }
        Some(self.overlay(doc, &ops))
    }

    fn overlay(&self, doc: &DocId, ops: &[&PhysOp]) -> Result<Option<Loaded>, StoreError> {
        let path = self.layout.doc_path(doc);
        let behind =
            |what: &str| StoreError::io("load (writes pending)", &path, io::Error::other(what.to_owned()));
        let mut bytes = match ops.first() {
            Some(PhysOp::Fresh { .. }) => Vec::new(),
            _ => match layout::read_all(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(StoreError::io("read", &path, e)),
            },
        };
        for op in ops {
            match op {
                PhysOp::Fresh { bytes: whole, .. } => bytes.clone_from(whole),
                PhysOp::At {
                    offset, bytes: more, ..
                } => {
                    let at = usize::try_from(*offset).map_err(|_| behind("offset too large"))?;
                    if bytes.len() < at {
                        return Err(behind("the file is shorter than a pending append"));
                    }
                    bytes.truncate(at);
                    bytes.extend_from_slice(more);
                }
                PhysOp::Forget { .. } => return Err(StoreError::Quarantined(doc.clone())),
            }
        }
        self.stats.read_doc_file();
        let label = self.layout.file_key(doc);
        // These bytes come from the log (checksummed): a failure here is no fault of the file.
        let (_, parsed) =
            docfile::parse(&bytes, self.sealer(), label.as_bytes(), Some(doc)).map_err(|e| behind(&e))?;
        match &parsed.state {
            Some(EntryState::Live(_)) => {
                let sync_states = parsed.sync_states();
                Ok(Some((parsed.chunks, sync_states)))
            }
            Some(EntryState::Tombstone) => Ok(None),
            _ => Err(behind("pending writes leave no state")),
        }
    }
}
