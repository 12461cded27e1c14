//! Opening a store: directories, lock, index, log replay.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{File, TryLockError};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::docfile;
use super::error::StoreError;
use super::index::{self, EntryState, Index};
use super::keycheck;
use super::layout::{self, Layout};
use super::quarantine::{self, Quarantine, QuarantineReport};
use super::seal::Sealer;
use super::stats::Counters;
use super::wal::{PhysOp, Wal};
use super::{DocStore, StoreOptions};
use crate::keys::DataKey;

impl DocStore {
    /// Opens (creating if needed) the store in `dir` with default options.
    pub fn open(dir: &Path) -> Result<DocStore, StoreError> {
        Self::open_with(dir, StoreOptions::default())
    }

    /// Opens (creating if needed) the store in `dir`: takes its lock, loads the index, replays
    /// the log's committed batches into the document files (then checkpoints), and rebuilds the
    /// index from the files if it was missing or damaged. Reads no document file otherwise.
    ///
    /// The store is plain (not encrypted): an encrypted store is refused with
    /// [`StoreError::KeyRequired`]. See [`DocStore::open_keyed`].
    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<DocStore, StoreError> {
        Self::open_keyed(dir, options, None)
    }

    /// Opens the store in `dir` as [`DocStore::open_with`] does, encrypted with `key` when given
    /// (HS-REST-3). A new store is created encrypted; an encrypted store opened with another key
    /// is [`StoreError::WrongKey`], without a key [`StoreError::KeyRequired`]; a plain store
    /// holding data opened with a key is [`StoreError::NotEncrypted`] (see [`DocStore::rekey`]).
    /// A re-encryption interrupted by a crash is finished (or undone) first.
    pub fn open_keyed(
        dir: &Path,
        options: StoreOptions,
        key: Option<&DataKey>,
    ) -> Result<DocStore, StoreError> {
        let sealer = match key {
            Some(key) => Some(Arc::new(
                Sealer::new(key).map_err(|e| StoreError::io("seal", dir, io::Error::other(e)))?,
            )),
            None => None,
        };
        let layout = Layout::new(dir, sealer.as_ref().map(|s| s.names_key()));
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create", dir, e))?;
        for sub in [&layout.docs, &layout.tmp, &layout.quarantine] {
            layout::ensure_dir(sub).map_err(|e| StoreError::io("create", sub, e))?;
        }
        let lock = take_lock(&layout)?;
        let stats = Counters::default();
        super::rekey::recover(&layout, &stats)?;
        clear_dir(&layout.tmp)?;
        check_key(&layout, sealer.as_deref(), &stats)?;
        let root = File::open(dir).map_err(|e| StoreError::io("open", dir, e))?;
        let (snapshot, written) = read_snapshot(&layout, sealer.as_deref())?;
        let rebuild = snapshot.is_none();
        let (wal, recovered) = Wal::open(&layout.wal, sealer.clone(), &stats)?;
        let mut store = DocStore {
            layout,
            options,
            _lock: lock,
            root,
            wal,
            index: snapshot.unwrap_or_default(),
            lens: HashMap::new(),
            salts: HashMap::new(),
            sealer,
            appends: HashMap::new(),
            touched: BTreeSet::new(),
            dirs_ok: HashSet::new(),
            quarantine: Mutex::new(Quarantine::default()),
            stats,
            behind: std::collections::VecDeque::new(),
            poisoned: None,
        };
        store.stats.wal_bytes_dropped = recovered.dropped;
        let replayed = !recovered.ops.is_empty();
        store.replay(recovered.ops)?;
        if rebuild {
            store.rebuild_index()?;
        }
        if replayed || rebuild || !written {
            store.checkpoint()?;
        }
        Ok(store)
    }

    /// Performs the logged ops again, skipping those a later whole-file write supersedes.
    pub(crate) fn replay(&mut self, ops: Vec<PhysOp>) -> Result<(), StoreError> {
        let mut last_reset = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            if matches!(op, PhysOp::Fresh { .. } | PhysOp::Forget { .. }) {
                last_reset.insert(op.doc().clone(), i);
            }
        }
        for (i, op) in ops.iter().enumerate() {
            if last_reset.get(op.doc()).is_some_and(|&reset| i < reset) {
                continue;
            }
            self.perform(op)?;
            self.stats.wal_ops_replayed += 1;
        }
        Ok(())
    }

    /// Rebuilds the index from the document files' META records (no Automerge parsing). Runs
    /// after the replay, so `self.index` then holds exactly the states the log replayed.
    fn rebuild_index(&mut self) -> Result<(), StoreError> {
        tracing::warn!(dir = %self.layout.root.display(), "rebuilding the index from the document files");
        self.stats.index_rebuilt = true;
        let mut rebuilt = Index::new();
        for path in doc_files(&self.layout.docs)? {
            let bytes = layout::read_all(&path).map_err(|e| StoreError::io("read", &path, e))?;
            self.stats.read_doc_file();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let found =
                docfile::parse(&bytes, self.sealer(), stem.as_bytes(), None).and_then(|(doc, parsed)| {
                    if self.layout.file_key(&doc) != stem {
                        return Err(format!("file of {doc} has the wrong name"));
                    }
                    let state = parsed.state.ok_or("file has no META record")?;
                    Ok((doc, state))
                });
            match found {
                Ok((doc, state)) => {
                    rebuilt.insert(doc, state);
                }
                Err(reason) => self.quarantine_unknown(&path, stem, &bytes, reason, &mut rebuilt),
            }
        }
        // What the replayed log says was acknowledged wins over what a file says: a file behind
        // its logged state is then caught by the next load instead of being trusted.
        for (doc, state) in std::mem::take(&mut self.index) {
            if rebuilt.get(&doc) != Some(&EntryState::Quarantined) {
                rebuilt.insert(doc, state);
            }
        }
        self.index = rebuilt;
        Ok(())
    }

    /// Moves aside a file found corrupt during a rebuild; its document is marked quarantined if
    /// the id record is still readable.
    fn quarantine_unknown(
        &mut self,
        path: &Path,
        stem: &str,
        bytes: &[u8],
        reason: String,
        rebuilt: &mut Index,
    ) {
        let doc = docfile::parse_id(bytes, self.sealer(), stem.as_bytes())
            .filter(|doc| self.layout.file_key(doc) == stem);
        let moved_to = quarantine::move_aside(&self.layout, stem, path).unwrap_or_else(|e| {
            tracing::error!(path = %path.display(), error = %e, "could not move a corrupt file");
            None
        });
        tracing::error!(path = %path.display(), %reason, "corrupt document file quarantined");
        if let Some(doc) = &doc {
            rebuilt.insert(doc.clone(), EntryState::Quarantined);
        }
        self.lock_quarantine().reports.push(QuarantineReport {
            doc,
            moved_to,
            reason,
        });
    }
}

/// Checks the data key against the store's key check; a new store gets one (HS-REST-2).
fn check_key(layout: &Layout, sealer: Option<&Sealer>, stats: &Counters) -> Result<(), StoreError> {
    match (keycheck::read(&layout.keycheck)?, sealer) {
        (Some(found), Some(s)) if found == s.key_id() => Ok(()),
        (Some(found), Some(s)) => Err(StoreError::WrongKey {
            path: layout.keycheck.clone(),
            found: found.to_string(),
            given: s.key_id().to_string(),
        }),
        (Some(_), None) => Err(StoreError::KeyRequired(layout.keycheck.clone())),
        (None, Some(s)) if is_empty(layout)? => keycheck::write(layout, s.key_id(), stats),
        (None, Some(_)) => Err(StoreError::NotEncrypted(layout.root.clone())),
        (None, None) => Ok(()),
    }
}

/// True when the store holds nothing yet: no index, cursors, blob ages, document directory or
/// logged batch.
fn is_empty(layout: &Layout) -> Result<bool, StoreError> {
    for file in [&layout.index, &layout.cursors, &layout.blob_ages] {
        if std::fs::symlink_metadata(file).is_ok() {
            return Ok(false);
        }
    }
    let wal_len = std::fs::symlink_metadata(&layout.wal).map_or(0, |m| m.len());
    let mut docs = std::fs::read_dir(&layout.docs).map_err(|e| StoreError::io("list", &layout.docs, e))?;
    Ok(wal_len <= super::wal::MAGIC.len() as u64 && docs.next().is_none())
}

fn take_lock(layout: &Layout) -> Result<File, StoreError> {
    let lock = layout::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&layout.lock)
        .map_err(|e| StoreError::io("open", &layout.lock, e))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked(layout.root.clone())),
        Err(TryLockError::Error(e)) => Err(StoreError::io("lock", &layout.lock, e)),
    }
}

/// Removes leftovers of writes interrupted by a crash (they were never acknowledged as files).
fn clear_dir(dir: &Path) -> Result<(), StoreError> {
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| StoreError::io("list", dir, e))?.path();
        std::fs::remove_file(&path).map_err(|e| StoreError::io("remove", &path, e))?;
    }
    Ok(())
}

/// The index snapshot, `None` when it must be rebuilt (missing with documents present, or
/// damaged); and whether a snapshot file exists.
fn read_snapshot(layout: &Layout, sealer: Option<&Sealer>) -> Result<(Option<Index>, bool), StoreError> {
    match layout::read_all(&layout.index) {
        Ok(bytes) => match index::decode(&bytes, sealer) {
            Ok(index) => Ok((Some(index), true)),
            Err(reason) => {
                tracing::error!(%reason, "index snapshot is damaged");
                Ok((None, true))
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut entries =
                std::fs::read_dir(&layout.docs).map_err(|e| StoreError::io("list", &layout.docs, e))?;
            Ok((entries.next().is_none().then(Index::new), false))
        }
        Err(e) => Err(StoreError::io("read", &layout.index, e)),
    }
}

/// Every `*.hsd` file one level below `docs`.
fn doc_files(docs: &Path) -> Result<Vec<std::path::PathBuf>, StoreError> {
    let list = |dir: &Path| -> Result<Vec<std::path::PathBuf>, StoreError> {
        let entries = std::fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
        entries
            .map(|e| e.map(|e| e.path()).map_err(|e| StoreError::io("list", dir, e)))
            .collect()
    };
    let mut files = Vec::new();
    for sub in list(docs)? {
        if std::fs::symlink_metadata(&sub).is_ok_and(|m| m.is_dir()) {
            let hsd = list(&sub)?
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "hsd"));
            files.extend(hsd.filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())));
        }
    }
    files.sort();
    Ok(files)
}
