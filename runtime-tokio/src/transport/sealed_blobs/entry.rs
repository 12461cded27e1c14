//! One blob in the store: its files, the groups present and the bitfield observers see.
//!
//! Writes go to the data and outboard files at once. The state record (which groups are present)
//! is rewritten after the outboard is synced ([`Entry::persist`]: at the end of an import, at
//! `sync_db` and shutdown, and every [`SYNC_EVERY`] bytes of a long import). The data file of a
//! fetched blob is not synced by the store (as iroh-blobs' own store does not): a kill -9 keeps
//! what the page cache holds, and after a power cut a group the state names but the disk lost
//! fails authentication like a tampered one and is fetched again. A blob added locally — the only
//! copy — is synced before it is acknowledged (import.rs). A group that fails authentication when
//! read is dropped from the state at once, so the blob becomes partial and is fetched again.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use iroh_blobs::Hash;
use iroh_blobs::api::blobs::{Bitfield, BlobStatus};
use tokio::sync::watch;

use super::cipher::BlobCipher;
use super::error::SealedBlobError;
use super::files;
use super::groups;
use super::outboard::FileOutboard;
use super::state::{BlobState, Groups};
use super::write_batch::WriteBatch;

/// Bytes of new groups after which an import records them (what a kill -9 can lose of a
/// transfer under way).
pub(crate) const SYNC_EVERY: u64 = 64 << 20;

/// The open files of an entry.
#[derive(Debug)]
struct Files {
    data: File,
    outboard: File,
}

/// The mutable part of an [`Entry`].
#[derive(Debug, Default)]
struct Inner {
    /// Size in bytes; 0 while nothing is known (an entry only observed).
    size: u64,
    /// Groups written (some maybe not yet synced).
    present: Groups,
    /// Groups named by the state file on disk.
    recorded: Groups,
    /// Bytes written since the last persist.
    unsynced: u64,
    /// Imports and exports under way ([`Entry::acquire`]); the files close when none is left.
    users: usize,
    files: Option<Files>,
}

/// One blob of the store. Shared by the actor and the tasks importing or exporting it.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The blob's hash.
    pub(crate) hash: Hash,
    /// Its directory name (keyed hash of `hash`).
    pub(crate) name: String,
    dir: PathBuf,
    cipher: Arc<BlobCipher>,
    inner: Mutex<Inner>,
    watch: watch::Sender<Bitfield>,
}

impl Entry {
    /// An entry with nothing stored yet, in directory `dir`.
    pub(crate) fn empty(hash: Hash, dir: PathBuf, cipher: Arc<BlobCipher>) -> Arc<Entry> {
        let name = cipher.entry_name(&hash);
        Arc::new(Entry {
            hash,
            name,
            dir,
            cipher,
            inner: Mutex::new(Inner::default()),
            watch: watch::channel(Bitfield::empty()).0,
        })
    }

    /// The entry of a state read from disk.
    pub(crate) fn loaded(state: BlobState, dir: PathBuf, cipher: Arc<BlobCipher>) -> Arc<Entry> {
        let entry = Entry::empty(state.hash, dir, cipher);
        {
            let mut inner = entry.lock();
            inner.size = state.size;
            inner.recorded = state.present.clone();
            inner.present = state.present;
        }
        entry.notify();
        entry
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves at worst groups unrecorded (fetched again).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The data file's path (named in errors).
    pub(crate) fn data_path(&self) -> PathBuf {
        self.path("data")
    }

    fn notify(&self) {
        let bitfield = if self.hash == Hash::EMPTY {
            Bitfield::complete(0)
        } else {
            let inner = self.lock();
            groups::bitfield(inner.size, &inner.present)
        };
        self.watch.send_replace(bitfield);
    }

    /// The current bitfield.
    pub(crate) fn bitfield(&self) -> Bitfield {
        self.watch.borrow().clone()
    }

    /// A receiver of every change of the bitfield.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Bitfield> {
        self.watch.subscribe()
    }

    /// True when at least one group is stored (the empty blob always is).
    pub(crate) fn is_stored(&self) -> bool {
        self.hash == Hash::EMPTY || !self.lock().present.is_empty()
    }

    /// Marks the entry in use until the guard drops; the files close when the last user ends.
    pub(crate) fn acquire(&self) -> InUse<'_> {
        self.lock().users += 1;
        InUse(self)
    }

    /// What iroh-blobs' `status` reports.
    pub(crate) fn status(&self) -> BlobStatus {
        let bitfield = self.bitfield();
        if bitfield.is_complete() {
            BlobStatus::Complete {
                size: bitfield.size(),
            }
        } else if self.is_stored() {
            BlobStatus::Partial {
                size: bitfield.validated_size(),
            }
        } else {
            BlobStatus::NotFound
        }
    }

    fn open_files(&self, inner: &mut Inner) -> Result<(), SealedBlobError> {
        if inner.files.is_some() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| SealedBlobError::io("create", &self.dir, e))?;
        let open = |name: &str| {
            let path = self.path(name);
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| SealedBlobError::io("open", path, e))
        };
        // Neither file is extended to the announced size (a peer's claim until the last group
        // arrives): unwritten parts read as holes or past the end, which never verify.
        inner.files = Some(Files {
            data: open("data")?,
            outboard: open("outboard")?,
        });
        Ok(())
    }

    /// Prepares to receive a blob of `size` bytes (the size a peer announced). A size that
    /// differs from the known one is taken only while no group is stored.
    pub(crate) fn begin_import(&self, size: u64) -> Result<(), SealedBlobError> {
        if size > groups::MAX_SIZE {
            return Err(SealedBlobError::malformed(
                self.data_path(),
                format!("a blob of {size} bytes is larger than the store takes"),
            ));
        }
        let mut inner = self.lock();
        if inner.size != size && inner.present.is_empty() {
            inner.files = None;
            files::remove_dir(&self.dir)?;
            inner.size = size;
        }
        self.open_files(&mut inner)
    }

    /// Saves a verified hash pair of the tree.
    pub(crate) fn write_parent(
        &self,
        node: bao_tree::TreeNode,
        pair: &(bao_tree::blake3::Hash, bao_tree::blake3::Hash),
    ) -> Result<(), SealedBlobError> {
        use bao_tree::io::sync::OutboardMut;
        let mut inner = self.lock();
        self.open_files(&mut inner)?;
        let size = inner.size;
        let Some(files) = inner.files.as_ref() else {
            return Ok(());
        };
        FileOutboard::new(&self.hash, size, &files.outboard)
            .save(node, pair)
            .map_err(|e| SealedBlobError::io("write", self.path("outboard"), e))
    }

    /// Seals the verified bytes `data` at `offset` (whole groups, the last one of the blob
    /// possibly short) into `batch`, writing the batch whenever it is full or the next group is
    /// not its next slot; groups already present are skipped. Records the groups every
    /// [`SYNC_EVERY`] bytes ([`Entry::persist`]). What is left in `batch` is written by
    /// [`Entry::flush`].
    pub(crate) fn write_leaf(
        &self,
        offset: u64,
        data: &[u8],
        batch: &mut WriteBatch,
    ) -> Result<(), SealedBlobError> {
        if !offset.is_multiple_of(groups::GROUP_LEN) {
            return Err(SealedBlobError::malformed(
                self.data_path(),
                format!("leaf at {offset} is not group-aligned"),
            ));
        }
        let mut wrote = false;
        {
            let mut inner = self.lock();
            self.open_files(&mut inner)?;
            let size = inner.size;
            let first = offset / groups::GROUP_LEN;
            for (i, piece) in data.chunks(groups::GROUP_LEN as usize).enumerate() {
                let index = first + i as u64;
                if piece.len() as u64 != groups::len(size, index) {
                    return Err(SealedBlobError::malformed(
                        self.data_path(),
                        format!("leaf at {offset} is not whole groups"),
                    ));
                }
                if inner.present.contains(&index) {
                    continue;
                }
                if !batch.accepts(index) {
                    wrote |= self.write_batch(&mut inner, batch)?;
                }
                batch.push(&self.cipher, &self.hash, index, piece);
            }
            if batch.is_full() {
                wrote |= self.write_batch(&mut inner, batch)?;
            }
            if inner.unsynced >= SYNC_EVERY {
                self.persist_locked(&mut inner)?;
            }
        }
        if wrote {
            self.notify();
        }
        Ok(())
    }

    /// Writes the groups left in `batch` (at the end of an import, whole or broken).
    pub(crate) fn flush(&self, batch: &mut WriteBatch) -> Result<(), SealedBlobError> {
        let wrote = {
            let mut inner = self.lock();
            self.write_batch(&mut inner, batch)?
        };
        if wrote {
            self.notify();
        }
        Ok(())
    }

    /// Writes `batch` with one `pwrite` and marks its groups present; true if it held any.
    fn write_batch(&self, inner: &mut Inner, batch: &mut WriteBatch) -> Result<bool, SealedBlobError> {
        if batch.is_empty() {
            return Ok(false);
        }
        self.open_files(inner)?;
        let Some(files) = inner.files.as_ref() else {
            return Err(SealedBlobError::malformed(self.data_path(), "not open"));
        };
        let (first, count, plain, sealed) = batch.parts();
        files
            .data
            .write_all_at(sealed, first * groups::SLOT_LEN)
            .map_err(|e| SealedBlobError::io("write", self.data_path(), e))?;
        inner.present |= Groups::from(first..first + count);
        inner.unsynced += plain;
        batch.clear();
        Ok(true)
    }

    /// Syncs the outboard and records the groups present in the state file (see the module
    /// docs for why the data file is not synced).
    pub(crate) fn persist(&self) -> Result<(), SealedBlobError> {
        let mut inner = self.lock();
        self.persist_locked(&mut inner)
    }

    fn persist_locked(&self, inner: &mut Inner) -> Result<(), SealedBlobError> {
        inner.unsynced = 0;
        if inner.present == inner.recorded {
            return Ok(());
        }
        if let Some(files) = inner.files.as_ref() {
            files
                .outboard
                .sync_data()
                .map_err(|e| SealedBlobError::io("sync", self.path("outboard"), e))?;
        }
        self.write_state(inner)
    }

    fn write_state(&self, inner: &mut Inner) -> Result<(), SealedBlobError> {
        let state = BlobState {
            hash: self.hash,
            size: inner.size,
            present: inner.present.clone(),
        };
        files::replace(&self.path("state"), &state.encode(&self.cipher, &self.name))?;
        inner.recorded = inner.present.clone();
        Ok(())
    }

    /// Group `index`, opened. A group that fails authentication is dropped from the state
    /// (recorded at once) and reported as [`SealedBlobError::Tampered`].
    pub(crate) fn read_group(&self, index: u64) -> Result<bytes::Bytes, SealedBlobError> {
        let mut inner = self.lock();
        if !inner.present.contains(&index) {
            return Err(SealedBlobError::io(
                "read",
                self.data_path(),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("chunk group {index} is not present"),
                ),
            ));
        }
        self.open_files(&mut inner)?;
        let Some(files) = inner.files.as_ref() else {
            return Err(SealedBlobError::malformed(self.data_path(), "not open"));
        };
        let read = groups::read(
            &self.cipher,
            &files.data,
            &self.data_path(),
            &self.hash,
            inner.size,
            index,
        );
        if let Err(e @ SealedBlobError::Tampered { .. }) = &read {
            tracing::error!(blob = %self.hash.fmt_short(), error = %e, "dropping a chunk group that failed authentication; the blob is partial and fetched again");
            // One bad group suggests others (a swap damages two): check them all once, now.
            let bad = self.scrub(&inner, files);
            inner.present -= Groups::from(index..index + 1);
            for other in bad {
                inner.present -= Groups::from(other..other + 1);
            }
            if let Err(write) = self.write_state(&mut inner) {
                tracing::warn!(error = %write, "recording the dropped chunk group failed");
            }
            drop(inner);
            self.notify();
        }
        read
    }

    /// Up to `max` groups from `first` (at least one), read with one read while they are
    /// present and consecutive, and opened. A run that fails to read, or whose first group
    /// fails authentication, falls back to [`Entry::read_group`], which reports and drops it.
    pub(crate) fn read_run(&self, first: u64, max: u64) -> Result<Vec<bytes::Bytes>, SealedBlobError> {
        {
            let mut inner = self.lock();
            let count = run_len(&inner.present, first, max);
            if count > 1 {
                self.open_files(&mut inner)?;
                if let Some(files) = inner.files.as_ref() {
                    let run = groups::read_run(
                        &self.cipher,
                        &files.data,
                        &self.data_path(),
                        &self.hash,
                        inner.size,
                        first,
                        count,
                    );
                    if let Ok(run) = run
                        && !run.is_empty()
                    {
                        return Ok(run);
                    }
                }
            }
        }
        self.read_group(first).map(|group| vec![group])
    }

    /// The present groups that fail authentication (read and opened one by one).
    fn scrub(&self, inner: &Inner, files: &Files) -> Vec<u64> {
        let mut bad = Vec::new();
        for range in inner.present.iter() {
            let (start, end) = match range {
                range_collections::range_set::RangeSetRange::Range(r) => (*r.start, *r.end),
                range_collections::range_set::RangeSetRange::RangeFrom(r) => {
                    (*r.start, groups::count(inner.size))
                }
            };
            for index in start..end {
                let read = groups::read(
                    &self.cipher,
                    &files.data,
                    &self.data_path(),
                    &self.hash,
                    inner.size,
                    index,
                );
                if let Err(e @ SealedBlobError::Tampered { .. }) = read {
                    tracing::error!(blob = %self.hash.fmt_short(), error = %e, "dropping a chunk group that failed authentication");
                    bad.push(index);
                }
            }
        }
        bad
    }

    /// The outboard, on its own handle of the file (read off the entry's lock).
    pub(crate) fn outboard(&self) -> Result<FileOutboard<File>, SealedBlobError> {
        let mut inner = self.lock();
        self.open_files(&mut inner)?;
        let size = inner.size;
        let Some(files) = inner.files.as_ref() else {
            return Err(SealedBlobError::malformed(self.path("outboard"), "not open"));
        };
        let file = files
            .outboard
            .try_clone()
            .map_err(|e| SealedBlobError::io("open", self.path("outboard"), e))?;
        Ok(FileOutboard::new(&self.hash, size, file))
    }

    /// Takes the complete blob staged in `staged` (data, outboard and state written and synced)
    /// in place of whatever this entry held.
    pub(crate) fn install(&self, staged: &std::path::Path, size: u64) -> Result<(), SealedBlobError> {
        {
            let mut inner = self.lock();
            inner.files = None;
            let old = staged.with_extension("old");
            if self.dir.exists() {
                std::fs::rename(&self.dir, &old).map_err(|e| SealedBlobError::io("rename", &self.dir, e))?;
            }
            std::fs::rename(staged, &self.dir)
                .map_err(|e| SealedBlobError::io("rename onto", &self.dir, e))?;
            if let Some(parent) = self.dir.parent() {
                files::sync_dir(parent)?;
            }
            files::remove_dir(&old)?;
            inner.size = size;
            inner.present = Groups::from(0..groups::count(size));
            inner.recorded = inner.present.clone();
            inner.unsynced = 0;
        }
        self.notify();
        Ok(())
    }

    /// Deletes the blob's files: the state first, so a kill leaves no entry that names groups.
    pub(crate) fn remove(&self) -> Result<(), SealedBlobError> {
        {
            let mut inner = self.lock();
            inner.files = None;
            files::remove_file(&self.path("state"))?;
            if self.dir.exists() {
                files::sync_dir(&self.dir)?;
            }
            files::remove_dir(&self.dir)?;
            *inner = Inner::default();
        }
        self.notify();
        Ok(())
    }
}

/// How many groups from `first` are in `present` consecutively, at most `max`.
fn run_len(present: &Groups, first: u64, max: u64) -> u64 {
    for range in present.iter() {
        let (start, end) = match range {
            range_collections::range_set::RangeSetRange::Range(r) => (*r.start, *r.end),
            range_collections::range_set::RangeSetRange::RangeFrom(r) => (*r.start, u64::MAX),
        };
        if start <= first && first < end {
            return (end - first).min(max);
        }
    }
    0
}

/// An import or export under way on an entry ([`Entry::acquire`]).
#[derive(Debug)]
pub(crate) struct InUse<'a>(&'a Entry);

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.users = inner.users.saturating_sub(1);
        if inner.users == 0 {
            inner.files = None;
        }
    }
}
