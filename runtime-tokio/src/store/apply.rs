//! Writing: a batch becomes physical ops, logged with one sync, then performed on the files.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use humansync_protocol::DocId;
use humansync_sansio::{DocMeta, DocWrite, PeerSyncState};

use super::docfile;
use super::durable;
use super::error::StoreError;
use super::index::EntryState;
use super::layout;
use super::seal::{Frame, Salt, Sealer};
use super::wal::{self, AppendError, PhysOp};
use super::{DocStore, StoreOp};

impl DocStore {
    /// Makes `batch` durable, in order, with one log sync for the whole batch (HS-SYNC-8): when
    /// this returns `Ok`, every op survives a crash. Quarantines not yet logged ride along.
    ///
    /// An `Append` (or a save without bytes) to a document with no stored file starts a new file
    /// with what it is given. When the log passes [`super::StoreOptions::checkpoint_wal_bytes`]
    /// a checkpoint follows; its failure poisons the store but does not undo the batch.
    ///
    /// An error means the batch was not logged: nothing of it happened on disk. Files left
    /// behind by an earlier failure (a full disk) are brought up to the log first, and the
    /// error of that attempt is returned while it fails (behind.rs).
    pub fn apply(&mut self, batch: &[StoreOp]) -> Result<(), StoreError> {
        self.catch_up()?;
        let mut ops = self.pending_forgets();
        ops.extend(self.plan(batch)?);
        self.commit(&ops)?;
        if self.wal.len() > self.options.checkpoint_wal_bytes
            && let Err(e) = self.checkpoint()
        {
            tracing::error!(error = %e, "checkpoint after a batch failed");
        }
        Ok(())
    }

    /// Logs `ops` durably (one sync) and performs them on the files (no sync).
    pub(crate) fn commit(&mut self, ops: &[PhysOp]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        if let Err(AppendError { error, poisoned }) = self.wal.append(ops, &self.stats) {
            if poisoned {
                self.poisoned = Some(error.to_string());
            }
            return Err(error);
        }
        self.stats.batch();
        // The batch is durable (acknowledged): a file write that fails now leaves the files
        // behind the log, performed again before the next write (behind.rs).
        self.perform_or_defer(ops);
        Ok(())
    }

    /// Turns a batch into physical ops, tracking file lengths through the batch.
    fn plan(&self, batch: &[StoreOp]) -> Result<Vec<PhysOp>, StoreError> {
        // Length and salt of each file as earlier ops of this batch leave it; `None`: not
        // appendable.
        let mut planned: HashMap<&DocId, Option<(u64, Salt)>> = HashMap::new();
        let mut ops = Vec::with_capacity(batch.len());
        for op in batch {
            let phys = match op {
                StoreOp::Save {
                    doc,
                    write,
                    meta,
                    sync_states,
                } => {
                    let base = match (write, planned.get(doc)) {
                        (Some(DocWrite::Replace(_)), _) => None,
                        (_, Some(len)) => *len,
                        (_, None) => self.append_base(doc)?,
                    };
                    let chunk = match write {
                        Some(DocWrite::Replace(bytes) | DocWrite::Append(bytes)) => Some(&bytes[..]),
                        None => None,
                    };
                    let label = self.layout.file_key(doc);
                    save_op(
                        self.sealer(),
                        label.as_bytes(),
                        doc,
                        base,
                        chunk,
                        sync_states,
                        meta,
                    )?
                }
                StoreOp::Delete { doc } => {
                    let label = self.layout.file_key(doc);
                    let (mut bytes, salt) = docfile::fresh(self.sealer(), label.as_bytes(), doc);
                    let frame = Frame::new(self.sealer(), label.as_bytes(), salt, 0);
                    docfile::push_tombstone(&mut bytes, frame);
                    (
                        PhysOp::Fresh {
                            doc: doc.clone(),
                            bytes,
                        },
                        salt,
                    )
                }
            };
            let (phys, salt) = phys;
            let end = match &phys {
                PhysOp::Fresh { bytes, .. } => bytes.len() as u64,
                PhysOp::At { offset, bytes, .. } => offset + bytes.len() as u64,
                PhysOp::Forget { .. } => 0,
            };
            if wal::record_len(&phys).is_none() {
                return Err(StoreError::TooLarge {
                    doc: op.doc().clone(),
                    len: end as usize,
                });
            }
            let live = matches!(op, StoreOp::Save { .. });
            planned.insert(op.doc(), live.then_some((end, salt)));
            ops.push(phys);
        }
        Ok(ops)
    }

    /// The length and salt of `doc`'s file if an append can go there: it is stored, live, not
    /// quarantined, and its file exists (with a readable header when encrypted).
    fn append_base(&self, doc: &DocId) -> Result<Option<(u64, Salt)>, StoreError> {
        let live = matches!(self.index.get(doc), Some(EntryState::Live(_)));
        if !live || self.is_pending_quarantine(doc) {
            return Ok(None);
        }
        let Some(len) = self.file_len(doc)? else {
            return Ok(None);
        };
        Ok(self.file_salt(doc).map(|salt| (len, salt)))
    }

    /// The salt of `doc`'s file (zero in a plain store), `None` when its header is unreadable.
    fn file_salt(&self, doc: &DocId) -> Option<Salt> {
        if self.sealer.is_none() {
            return Some([0; super::seal::SALT_LEN]);
        }
        if let Some(salt) = self.salts.get(doc) {
            return Some(*salt);
        }
        let mut head = vec![0u8; docfile::header_len(self.sealer())];
        let mut file = layout::open_read(&self.layout.doc_path(doc)).ok()?;
        file.read_exact(&mut head).ok()?;
        docfile::salt(self.sealer(), &head)
    }

    /// The length of `doc`'s file, `None` when it has none.
    fn file_len(&self, doc: &DocId) -> Result<Option<u64>, StoreError> {
        if let Some(len) = self.lens.get(doc) {
            return Ok(Some(*len));
        }
        let path = self.layout.doc_path(doc);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Err(StoreError::io(
                "append to",
                &path,
                io::Error::other("not a regular file"),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::warn!(%doc, "indexed document has no file; writing a new one");
                Ok(None)
            }
            Err(e) => Err(StoreError::io("stat", &path, e)),
        }
    }

    /// Performs one logged op on the files and the index (also used by replay).
    pub(crate) fn perform(&mut self, op: &PhysOp) -> Result<(), StoreError> {
        let doc = op.doc().clone();
        let label = self.layout.file_key(&doc);
        let sealer = self.sealer.clone();
        let sealer = sealer.as_deref();
        let state = match op {
            PhysOp::Fresh { bytes, .. } => {
                self.write_whole(&doc, bytes)?;
                // Not remembered: most files written whole are never appended to in this run
                // (100,000 notes received kept 100,000 lengths and salts); the first append
                // reads them back from the file.
                self.lens.remove(&doc);
                self.salts.remove(&doc);
                self.appends.remove(&doc);
                docfile::file_state(bytes, sealer, label.as_bytes())
            }
            PhysOp::At { offset, bytes, .. } => {
                if self.write_at(&doc, *offset, bytes)? {
                    self.lens.insert(doc.clone(), offset + bytes.len() as u64);
                    *self.appends.entry(doc.clone()).or_default() += 1;
                }
                // A missing file has no salt: the index keeps its row and the next load finds
                // the file missing (quarantine, recovery from a peer).
                let salt = self.file_salt(&doc);
                if let (Some(salt), Some(_)) = (salt, sealer) {
                    // Remembered from the first append on: a file appended to once is being
                    // edited, and each append would otherwise read its header again.
                    self.salts.insert(doc.clone(), salt);
                }
                salt.and_then(|salt| {
                    let frame = Frame::new(sealer, label.as_bytes(), salt, *offset);
                    docfile::fragment_state(bytes, frame)
                })
            }
            PhysOp::Forget { .. } => {
                self.lens.remove(&doc);
                self.salts.remove(&doc);
                self.appends.remove(&doc);
                Some(EntryState::Quarantined)
            }
        };
        // Every op this store logs ends in a state record, so `state` is `Some` here unless an
        // append's file is gone.
        if let Some(state) = state {
            self.index.insert(doc.clone(), state);
        }
        self.lock_quarantine().pending.remove(&doc);
        if !durable::HAS_SYNCFS {
            self.touched.insert(doc);
        }
        Ok(())
    }

    /// Writes a whole file (no sync: the log holds the content until a checkpoint makes the file
    /// durable). A document the index has never seen is created under its own name — nothing
    /// is replaced, and a crash part-way leaves a torn file that replaying the log rewrites — ;
    /// otherwise the file is written next to the documents and renamed over the old one. At
    /// 100,000 new documents the rename was a third of the disk worker's time.
    fn write_whole(&mut self, doc: &DocId, bytes: &[u8]) -> Result<(), StoreError> {
        let dir = self.layout.doc_dir(doc);
        self.ensure_doc_dir(&dir)?;
        let path = self.layout.doc_path(doc);
        if !self.index.contains_key(doc) {
            match layout::options().write(true).create_new(true).open(&path) {
                Ok(file) => return self.fill(file, &path, bytes),
                // A file the index does not know (left by a crash or a quarantine race): replace
                // it the careful way.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io("create", &path, e)),
            }
        }
        let tmp = self.layout.tmp_path(doc);
        let file = layout::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(StoreError::at("create", &tmp))?;
        self.fill(file, &tmp, bytes)?;
        std::fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename onto", &path, e))
    }

    /// Writes `bytes` into the new file `file` at `path`; on failure removes it.
    fn fill(&mut self, mut file: std::fs::File, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        if let Err(e) = file.write_all(bytes) {
            // A partial copy only takes space (a full disk): the retry writes it again.
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(StoreError::io("write", path, e));
        }
        self.stats.wrote(bytes.len());
        Ok(())
    }

    /// Cuts the file to `offset` and writes `bytes` there. Returns `false` (and writes nothing)
    /// when the file is missing or shorter than `offset`: its earlier content is lost, and the
    /// next load finds the file behind the index and quarantines it.
    fn write_at(&mut self, doc: &DocId, offset: u64, bytes: &[u8]) -> Result<bool, StoreError> {
        let path = self.layout.doc_path(doc);
        let mut file = match layout::options().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::error!(%doc, "append to a missing file skipped");
                return Ok(false);
            }
            Err(e) => return Err(StoreError::io("open", &path, e)),
        };
        let len = file.metadata().map_err(StoreError::at("stat", &path))?.len();
        if len < offset {
            tracing::error!(%doc, len, offset, "append beyond the end of a file skipped");
            return Ok(false);
        }
        if len > offset {
            file.set_len(offset).map_err(StoreError::at("truncate", &path))?;
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(StoreError::at("seek", &path))?;
        file.write_all(bytes).map_err(StoreError::at("write", &path))?;
        self.stats.wrote(bytes.len());
        Ok(true)
    }

    fn ensure_doc_dir(&mut self, dir: &Path) -> Result<(), StoreError> {
        if !self.dirs_ok.contains(dir) {
            layout::ensure_dir(dir).map_err(|e| StoreError::io("create", dir, e))?;
            self.dirs_ok.insert(dir.to_path_buf());
        }
        Ok(())
    }
}

/// The op for one save: appended records at `base` (length, salt), or a new file when `base`
/// is `None`; and the file's salt. `label` is the file's name key.
fn save_op(
    sealer: Option<&Sealer>,
    label: &[u8],
    doc: &DocId,
    base: Option<(u64, Salt)>,
    chunk: Option<&[u8]>,
    sync_states: &[PeerSyncState],
    meta: &DocMeta,
) -> Result<(PhysOp, Salt), StoreError> {
    let (mut bytes, frame) = match base {
        None => {
            let (bytes, salt) = docfile::fresh(sealer, label, doc);
            (bytes, Frame::new(sealer, label, salt, 0))
        }
        Some((offset, salt)) => (Vec::new(), Frame::new(sealer, label, salt, offset)),
    };
    docfile::push_save(&mut bytes, frame, chunk, sync_states, meta).ok_or_else(|| StoreError::TooLarge {
        doc: doc.clone(),
        len: chunk.map_or(0, <[u8]>::len),
    })?;
    let doc = doc.clone();
    Ok(match base {
        None => (PhysOp::Fresh { doc, bytes }, frame.salt()),
        Some((offset, salt)) => (PhysOp::At { doc, offset, bytes }, salt),
    })
}
