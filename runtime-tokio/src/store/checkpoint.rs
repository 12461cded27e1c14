//! Checkpoints: make the document files durable, publish the index, empty the log, compact.
//!
//! Order (each step durable before the next; a crash anywhere leaves a state open() repairs):
//! 1. compacted copies of files with many appends are written to `tmp/` (not in place);
//! 2. the index snapshot is written to `tmp/index`;
//! 3. one `syncfs`: every file written since the last checkpoint, the copies and the snapshot;
//! 4. the snapshot is renamed to `index` and the storage directory synced;
//! 5. the log is emptied and synced — the files are now the only copy;
//! 6. the compacted copies are renamed over their files and one more `syncfs` makes that durable.
//!
//! Step 6 comes after step 5 because the log's appends carry offsets into the old files. A crash
//! in step 6 leaves each file old or compacted: the same content either way.

use std::io::Write;
use std::path::Path;

use humansync_protocol::DocId;

use super::DocStore;
use super::docfile;
use super::durable;
use super::error::StoreError;
use super::index::{self, EntryState};
use super::layout;

impl DocStore {
    /// Makes every applied write durable in the document files, publishes an index snapshot and
    /// empties the log; compacts files with many appends. Costs three syncs (four when it
    /// compacts) however many documents changed. Called by [`DocStore::apply`] when the log is
    /// large and by [`DocStore::close`]; call it at clean shutdown.
    ///
    /// Files behind the log are brought up to it first (behind.rs): the log is emptied only
    /// once every op it holds is in the files. A failure before the sync leaves the log as it
    /// was and removes the partial copies (they only take space on a full disk).
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.catch_up()?;
        let index_tmp = self.layout.index_tmp();
        let prepared = self.prepare_checkpoint(&index_tmp);
        let compacted = match prepared {
            Ok(compacted) => compacted,
            Err(e) => {
                self.clear_tmp();
                return Err(e);
            }
        };
        let result = self.publish(&compacted, &index_tmp);
        if let Err(e) = &result {
            // After a failed sync the kernel may have dropped dirty pages: only a replay of the
            // (still intact) log can be trusted to rewrite them, at the next write (behind.rs).
            self.poisoned = Some(e.to_string());
        }
        result
    }

    /// Steps 1–2 of the module docs, with the quarantines not logged yet.
    fn prepare_checkpoint(&mut self, index_tmp: &Path) -> Result<Vec<(DocId, u64)>, StoreError> {
        let compacted = self.prepare_compactions()?;
        let forgets = self.pending_forgets();
        self.commit(&forgets)?;
        self.catch_up()?;
        let mut file = create_file(index_tmp)?;
        let written = index::write(&self.index, self.sealer(), &mut file)
            .map_err(|e| StoreError::io("write", index_tmp, e))?;
        self.stats.wrote(written as usize);
        Ok(compacted)
    }

    /// Removes what a failed checkpoint left in `tmp/` (nothing there is needed yet).
    fn clear_tmp(&self) {
        let Ok(entries) = std::fs::read_dir(&self.layout.tmp) else {
            return;
        };
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }

    /// Steps 3–6 of the module docs.
    fn publish(&mut self, compacted: &[(DocId, u64)], index_tmp: &Path) -> Result<(), StoreError> {
        self.sync_written(compacted, index_tmp)?;
        let index = &self.layout.index;
        std::fs::rename(index_tmp, index).map_err(|e| StoreError::io("rename onto", index, e))?;
        let root = &self.layout.root;
        durable::sync_dir(root, &self.stats).map_err(|e| StoreError::io("sync", root, e))?;
        let wal = &self.layout.wal;
        self.wal
            .reset(&self.stats)
            .map_err(|e| StoreError::io("empty", wal, e))?;
        for (doc, len) in compacted {
            let (tmp, path) = (self.layout.tmp_path(doc), self.layout.doc_path(doc));
            std::fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename onto", &path, e))?;
            self.lens.insert(doc.clone(), *len);
            // The compacted file has a new salt; the next append reads it.
            self.salts.remove(doc);
            self.appends.remove(doc);
            self.stats.compaction();
        }
        self.touched.clear();
        if !compacted.is_empty() {
            self.sync_written(compacted, index_tmp)?;
        }
        self.stats.checkpoint();
        Ok(())
    }

    /// Writes compacted copies of files with many appends to `tmp/`; returns (doc, new length).
    /// A file found corrupt on the way is quarantined (and skipped).
    fn prepare_compactions(&mut self) -> Result<Vec<(DocId, u64)>, StoreError> {
        let mut due: Vec<DocId> = self
            .appends
            .iter()
            .filter(|(_, n)| **n >= self.options.compact_after_appends)
            .map(|(doc, _)| doc.clone())
            .collect();
        due.sort();
        let mut out = Vec::new();
        for doc in due {
            let Some(EntryState::Live(meta)) = self.index.get(&doc) else {
                self.appends.remove(&doc);
                continue;
            };
            let path = self.layout.doc_path(&doc);
            let bytes = match layout::read_all(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!(%doc, error = %e, "compaction skipped: file unreadable");
                    continue;
                }
            };
            self.stats.read_doc_file();
            let label = self.layout.file_key(&doc);
            let parsed = match docfile::parse(&bytes, self.sealer(), label.as_bytes(), Some(&doc)) {
                Ok((_, parsed)) if parsed.state.as_ref() == Some(&EntryState::Live(meta.clone())) => parsed,
                Ok(_) => {
                    let _ =
                        self.quarantine_doc(&doc, "file ends at an older state than the index".to_owned());
                    continue;
                }
                Err(reason) => {
                    let _ = self.quarantine_doc(&doc, reason);
                    continue;
                }
            };
            let Some(small) = docfile::compacted(self.sealer(), label.as_bytes(), &doc, &parsed) else {
                continue;
            };
            write_file(&self.layout.tmp_path(&doc), &small)?;
            self.stats.wrote(small.len());
            out.push((doc, small.len() as u64));
        }
        Ok(out)
    }

    /// Makes everything written since the last checkpoint durable: one syncfs, or where there is
    /// none, each touched file and directory in turn.
    fn sync_written(&self, compacted: &[(DocId, u64)], index_tmp: &Path) -> Result<(), StoreError> {
        let root = &self.layout.root;
        let synced = durable::sync_filesystem(&self.root, &self.stats)
            .map_err(|e| StoreError::io("syncfs", root, e))?;
        if synced {
            return Ok(());
        }
        let mut files: Vec<std::path::PathBuf> =
            self.touched.iter().map(|d| self.layout.doc_path(d)).collect();
        files.extend(compacted.iter().map(|(d, _)| self.layout.doc_path(d)));
        files.extend(compacted.iter().map(|(d, _)| self.layout.tmp_path(d)));
        files.push(index_tmp.to_path_buf());
        let mut dirs: Vec<std::path::PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        dirs.push(self.layout.docs.clone());
        dirs.sort();
        dirs.dedup();
        for file in files {
            match layout::open_read(&file) {
                Ok(f) => durable::sync_file(&f, &self.stats).map_err(|e| StoreError::io("sync", &file, e))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("open", &file, e)),
            }
        }
        for dir in dirs {
            durable::sync_dir(&dir, &self.stats).map_err(|e| StoreError::io("sync", &dir, e))?;
        }
        Ok(())
    }
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    create_file(path)?
        .write_all(bytes)
        .map_err(|e| StoreError::io("write", path, e))
}

/// Creates (or empties) the file at `path` for writing.
fn create_file(path: &Path) -> Result<std::fs::File, StoreError> {
    layout::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| StoreError::io("create", path, e))
}
