//! Counters of the store's work, for tests and metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the store did since it was opened (a snapshot; see [`super::DocStore::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Calls of fsync, fdatasync and syncfs (each counts one).
    pub fsyncs: u64,
    /// Bytes written to the log, document files and the index.
    pub bytes_written: u64,
    /// Current size of the write-ahead log in bytes.
    pub wal_bytes: u64,
    /// Document files read (loads, compactions, index rebuilds); opening with a valid index reads none.
    pub doc_files_read: u64,
    /// Batches made durable by [`super::DocStore::apply`].
    pub batches: u64,
    /// Checkpoints completed.
    pub checkpoints: u64,
    /// Document files compacted by checkpoints.
    pub compactions: u64,
    /// Logged operations replayed at open.
    pub wal_ops_replayed: u64,
    /// Bytes of a torn (never acknowledged) log tail dropped at open.
    pub wal_bytes_dropped: u64,
    /// True when the index was missing or corrupt at open and was rebuilt from the document files.
    pub index_rebuilt: bool,
}

/// Live counters; `&self` methods (loads) update them too.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    fsyncs: AtomicU64,
    bytes_written: AtomicU64,
    doc_files_read: AtomicU64,
    batches: AtomicU64,
    checkpoints: AtomicU64,
    compactions: AtomicU64,
    pub(crate) wal_ops_replayed: u64,
    pub(crate) wal_bytes_dropped: u64,
    pub(crate) index_rebuilt: bool,
}

impl Counters {
    pub(crate) fn fsync(&self) {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn wrote(&self, bytes: usize) {
        self.bytes_written.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn read_doc_file(&self) {
        self.doc_files_read.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn batch(&self) {
        self.batches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn checkpoint(&self) {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn compaction(&self) {
        self.compactions.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot, with the log size supplied by the caller.
    pub(crate) fn snapshot(&self, wal_bytes: u64) -> StoreStats {
        StoreStats {
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            wal_bytes,
            doc_files_read: self.doc_files_read.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            checkpoints: self.checkpoints.load(Ordering::Relaxed),
            compactions: self.compactions.load(Ordering::Relaxed),
            wal_ops_replayed: self.wal_ops_replayed,
            wal_bytes_dropped: self.wal_bytes_dropped,
            index_rebuilt: self.index_rebuilt,
        }
    }
}
