//! The on-disk document store: one file per document, a write-ahead log, an index.
//!
//! Blocking `std::fs` code: the runtime calls it from `spawn_blocking`. It serves the core's
//! `IoAction::{LoadDoc, SaveDoc, DeleteDoc}` and builds its [`Startup`].
//!
//! # Guarantees
//! - **Nothing acknowledged is lost** (HS-SYNC-8). [`DocStore::apply`] returns `Ok` only once
//!   its whole batch is in the write-ahead log and the log is fdatasync'ed: **one** sync per
//!   batch, however many documents it holds (10,000 documents cost one sync, not 10,000).
//! - **Document files are written after the log, without syncing.** A checkpoint (when the log
//!   passes [`StoreOptions::checkpoint_wal_bytes`], and at [`DocStore::close`]) makes them
//!   durable with one `syncfs`, publishes an index snapshot, and only then empties the log.
//!   At open, the committed batches still in the log are replayed into the files; ops are
//!   physical (a whole file, or bytes at an absolute offset), so replay is idempotent and also
//!   repairs files torn by the crash. A torn log tail is a batch that was never acknowledged and
//!   is dropped.
//! - **Compaction never deletes data before its replacement is durable.** A `Replace` (the
//!   core's compaction) is a whole new file in the log before the old file is renamed over; the
//!   store's own compaction (folding many appended records, in a checkpoint) renames the
//!   compacted file into place only after a `syncfs` made it durable and after the log that
//!   refers to the old layout is emptied.
//! - **Corruption is contained.** Every record carries a CRC-32; every save ends with a META
//!   record equal to the index row, so a file cut at a record boundary is caught too. A file that
//!   fails is moved to `quarantine/`, reported ([`DocStore::quarantine_reports`]), and loads as
//!   [`StoreError::Corrupt`] / [`StoreError::Quarantined`]: the runtime answers `IoResult::Failed`,
//!   the core emits `Event::DocCorrupt` and recovers the document from a peer. A valid prefix is
//!   never served in place of content the index says was acknowledged.
//! - **Open reads the index, not the documents.** The index snapshot plus the log gives every
//!   document's row without reading a document file ([`StoreStats::doc_files_read`] stays 0);
//!   a missing or damaged index is rebuilt from the files' META records, still without Automerge.
//!
//! - **Encrypted at rest when given a data key** (issue 21, HS-REST-3): every record of every
//!   store file (documents, sync states, log, index, cursors, blob ages) is sealed with
//!   AES-256-GCM and bound to its file, salt, offset and kind (seal.rs); document file names are
//!   keyed hashes (HS-REST-4). A record that fails authentication is corruption, handled as
//!   above. A wrong key is refused at open ([`StoreError::WrongKey`], keycheck.rs); a plain store
//!   opened with a key is [`StoreError::NotEncrypted`] until [`DocStore::rekey`] migrates it, and
//!   `rekey` also rotates keys, crash-safely (rekey.rs).
//!
//! # Driving it (for the runtime)
//! Group commit: while one `apply` runs on the blocking pool, queue the `SaveDoc` / `DeleteDoc`
//! tasks that arrive ([`StoreOp::from_action`]); when it returns, answer its tasks with
//! `IoResult::Done` (or all with `IoResult::Failed` on error) and apply the queue as the next
//! batch. Loads may run concurrently with each other (`&self`). Map [`StoreError::doc_fault`]
//! to `IoResult::Failed`; when the core emits `Event::DocCorrupt` for bytes Automerge refused,
//! call [`DocStore::quarantine`]. Call [`DocStore::close`] at shutdown.
//!
//! # Layout
//! See `layout.rs`. Files are named by a hash of the document id rather than by the id as a
//! path: ids that differ only in case (`a` and `A`) stay apart on case-insensitive file systems,
//! a file can never collide with a directory (`a` vs `a.hsd/b`), no name depends on characters
//! from the network, and 10,000 documents spread over 256 directories. The id is the first record
//! of each file, checked on every read. Files are opened with `O_NOFOLLOW` and directories are
//! checked not to be symlinks.
//!
//! # Durability caveats
//! `syncfs` flushes the whole file system (other programs' dirty data too), and before Linux 5.8
//! it did not report writeback errors. A failed sync poisons the store: the next write or
//! checkpoint recovers it as a reopen would (re-reads and replays the log, which is still
//! intact), without a restart; a failed document-file write (a full disk) leaves the files behind
//! the log until the next write performs the rest (behind.rs). On systems without `syncfs` a
//! checkpoint syncs each file written since the previous checkpoint instead.

mod apply;
mod behind;
mod blob_ages;
mod checkpoint;
mod codec;
mod cursors;
#[cfg(test)]
mod disk_full_tests;
mod docfile;
mod durable;
mod error;
mod index;
mod keycheck;
mod last_seen;
mod layout;
mod load;
mod open;
mod quarantine;
mod record;
mod rekey;
mod seal;
mod stamps;
mod stats;
#[cfg(test)]
mod tmpfs;
mod wal;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use humansync_protocol::DocId;
use humansync_sansio::{DocMeta, DocWrite, IoAction, PeerSyncState};

pub use blob_ages::wall_ms;
pub use error::{StoreError, is_disk_full};
pub use load::Loaded;
pub use quarantine::QuarantineReport;
pub use record::MAX_PAYLOAD;
pub use rekey::RekeyReport;
pub use stats::StoreStats;

pub(crate) use layout::options as nofollow_options;

use index::Index;
use layout::Layout;
use quarantine::Quarantine;
use seal::{Salt, Sealer};
use stats::Counters;
use wal::{PhysOp, Wal};

/// One write the store makes durable, as asked by the core's `SaveDoc` / `DeleteDoc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Write a document's bytes (if changed), its index row and changed sync states (HS-SYNC-3).
    Save {
        /// The document.
        doc: DocId,
        /// The bytes to write, if the content changed.
        write: Option<DocWrite>,
        /// The new index row.
        meta: DocMeta,
        /// Sync states that changed.
        sync_states: Vec<PeerSyncState>,
    },
    /// Replace the document with a tombstone (HS-DOC-5).
    Delete {
        /// The document.
        doc: DocId,
    },
}

impl StoreOp {
    /// The op for a `SaveDoc` or `DeleteDoc` action; any other action is handed back.
    #[allow(clippy::result_large_err)] // The action is handed back by move, as it came.
    pub fn from_action(action: IoAction) -> Result<StoreOp, IoAction> {
        match action {
            IoAction::SaveDoc {
                doc,
                write,
                meta,
                sync_states,
            } => Ok(StoreOp::Save {
                doc,
                write,
                meta,
                sync_states,
            }),
            IoAction::DeleteDoc { doc } => Ok(StoreOp::Delete { doc }),
            other => Err(other),
        }
    }

    /// The document this op writes.
    pub fn doc(&self) -> &DocId {
        match self {
            StoreOp::Save { doc, .. } | StoreOp::Delete { doc } => doc,
        }
    }
}

/// Tuning of a [`DocStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Checkpoint once the log exceeds this many bytes (bounds replay work at open).
    pub checkpoint_wal_bytes: u64,
    /// Compact a document file at the next checkpoint once this many appends accumulated.
    pub compact_after_appends: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            checkpoint_wal_bytes: 64 << 20,
            compact_after_appends: 64,
        }
    }
}

/// The document store of one node. See the module docs for the guarantees.
///
/// `&self` methods (loads, [`DocStore::startup`]) may run concurrently, for example under a
/// `RwLock`; `&mut self` methods (writes, checkpoints) need exclusive access.
#[derive(Debug)]
pub struct DocStore {
    layout: Layout,
    options: StoreOptions,
    /// Holds the exclusive lock on `<root>/lock` while open.
    _lock: File,
    /// The storage directory, for syncfs.
    root: File,
    wal: Wal,
    index: Index,
    /// Known lengths of document files (else stat'ed on first append).
    lens: HashMap<DocId, u64>,
    /// Known salts of document files of an encrypted store (else read on first append).
    salts: HashMap<DocId, Salt>,
    /// The keys of an encrypted store.
    sealer: Option<Arc<Sealer>>,
    /// Appends since each file was last written whole.
    appends: HashMap<DocId, u32>,
    /// Documents written since the last checkpoint, kept only where there is no syncfs (to sync
    /// them file by file).
    touched: BTreeSet<DocId>,
    /// Document directories created or checked in this process.
    dirs_ok: HashSet<PathBuf>,
    quarantine: Mutex<Quarantine>,
    stats: Counters,
    /// Logged ops a failed file write left undone, in order (behind.rs).
    behind: VecDeque<PhysOp>,
    /// Set when an earlier failure left durability unknown; cleared by recovery (behind.rs).
    poisoned: Option<String>,
}

impl DocStore {
    /// Counters since open (fsyncs, bytes written, files read, …).
    pub fn stats(&self) -> StoreStats {
        self.stats.snapshot(self.wal.len())
    }

    /// The file holding `doc` (its name is a keyed hash in an encrypted store, HS-REST-4).
    pub fn doc_file(&self, doc: &DocId) -> PathBuf {
        self.layout.doc_path(doc)
    }

    /// The storage directory.
    pub fn path(&self) -> &std::path::Path {
        &self.layout.root
    }

    /// Checkpoints and closes the store (a clean shutdown leaves an empty log).
    pub fn close(mut self) -> Result<(), StoreError> {
        self.checkpoint()
    }

    /// The id of the data key the store is encrypted with, `None` for a plain store.
    pub fn key_id(&self) -> Option<crate::keys::KeyId> {
        self.sealer.as_ref().map(|s| s.key_id())
    }

    pub(crate) fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_deref()
    }
}
