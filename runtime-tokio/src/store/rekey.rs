//! Re-encryption (HS-REST-5): migrating a plain store to a data key, rotating the key, or
//! decrypting — one crash-safe procedure.
//!
//! 1. The store is opened with the old key and checkpointed (the log is then empty).
//! 2. Every document file, the index, cursors, blob ages, an empty log and the key check are
//!    written under the new key into `<root>/rekey/` (document files compacted, new names), and
//!    made durable (`syncfs`, or file by file).
//! 3. **Commit**: `rekey/COMMIT` is written and synced. Before it, the old store is untouched
//!    and an interrupted re-encryption is undone at the next open (the staging is deleted).
//! 4. Roll forward: `docs/` moves to `docs.old/`, the staged `docs/` and files are renamed into
//!    place, the directory synced, `docs.old/`, the quarantine (files under the old key, which may
//!    hold plaintext) and finally `COMMIT` and `rekey/` removed. Every step can run again, so
//!    an open that finds `COMMIT` simply rolls forward again: a kill -9 at any point leaves a
//!    store that opens with exactly one of the two keys.
//!
//! The old file contents are unlinked, not overwritten: on a disk without full-disk encryption
//! their blocks may linger until reused (see SPEC.md HS-REST-7).

use std::io;
use std::path::Path;

use humansync_protocol::DocId;

use super::docfile;
use super::durable;
use super::error::StoreError;
use super::index::{self, EntryState, Index};
use super::keycheck;
use super::layout::{self, Layout};
use super::seal::{self, Sealer};
use super::stats::Counters;
use super::{DocStore, StoreOptions};
use crate::keys::DataKey;

/// The commit marker inside the staging directory.
const COMMIT: &str = "COMMIT";
/// The marker while it is written, before it is renamed to [`COMMIT`].
const COMMIT_TMP: &str = "COMMIT.tmp";
/// The marker of a re-encryption to a key.
const SEALED: &[u8] = b"sealed";
/// The marker of a re-encryption to a plain store.
const PLAIN: &[u8] = b"plain";

/// What [`DocStore::rekey`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Documents (live or deleted) re-encrypted.
    pub docs: usize,
    /// Documents whose file was corrupt or missing: marked quarantined, recovered from peers.
    pub lost: Vec<DocId>,
}

impl DocStore {
    /// Re-encrypts the closed store in `dir` from `old` to `new` (`None`: plain), crash-safely
    /// (see the module docs of rekey.rs): migration is `(None, Some(key))`, rotation
    /// `(Some(old), Some(new))`. Keep both keys until this returns: after a crash the store opens
    /// with exactly one of them. Fails with the errors of [`DocStore::open_keyed`] for `old`.
    pub fn rekey(
        dir: &Path,
        options: StoreOptions,
        old: Option<&DataKey>,
        new: Option<&DataKey>,
    ) -> Result<RekeyReport, StoreError> {
        let mut store = DocStore::open_keyed(dir, options, old)?;
        store.checkpoint()?;
        let sealer = match new {
            Some(key) => {
                Some(Sealer::new(key).map_err(|e| StoreError::io("seal", dir, io::Error::other(e)))?)
            }
            None => None,
        };
        let staging = Layout::new(&store.layout.rekey, sealer.as_ref().map(Sealer::names_key));
        let report = store.stage(&staging, sealer.as_ref())?;
        // The commit point is the rename of a complete, synced marker: a kill while the marker is
        // being written leaves no `COMMIT` (an empty one, read as "plain", once removed the key
        // check of a sealed store: kill9_rotation.rs).
        let commit = staging.root.join(COMMIT);
        let pending = staging.root.join(COMMIT_TMP);
        let marker: &[u8] = if sealer.is_some() { SEALED } else { PLAIN };
        write_synced(&pending, marker, &store.stats)?;
        std::fs::rename(&pending, &commit).map_err(|e| StoreError::io("rename onto", &commit, e))?;
        durable::sync_dir(&staging.root, &store.stats)
            .map_err(|e| StoreError::io("sync", &staging.root, e))?;
        roll_forward(&store.layout, &store.stats)?;
        tracing::info!(dir = %dir.display(), docs = report.docs, lost = report.lost.len(), "store re-encrypted");
        Ok(report)
    }

    /// Step 2: writes everything under the new key into `staging` and makes it durable.
    fn stage(&self, staging: &Layout, sealer: Option<&Sealer>) -> Result<RekeyReport, StoreError> {
        let root = &staging.root;
        if std::fs::symlink_metadata(root).is_ok() {
            std::fs::remove_dir_all(root).map_err(|e| StoreError::io("remove", root, e))?;
        }
        for dir in [&staging.root, &staging.docs] {
            layout::ensure_dir(dir).map_err(|e| StoreError::io("create", dir, e))?;
        }
        let mut report = RekeyReport::default();
        let mut next = Index::new();
        let mut written = Vec::new();
        for (doc, state) in &self.index {
            let state = match state {
                EntryState::Quarantined => EntryState::Quarantined,
                state => match self.restage(doc, state, staging, sealer) {
                    Ok(path) => {
                        written.push(path);
                        report.docs += 1;
                        state.clone()
                    }
                    Err(reason) => {
                        tracing::error!(%doc, %reason, "document not re-encrypted; recovered from peers");
                        report.lost.push(doc.clone());
                        EntryState::Quarantined
                    }
                },
            };
            next.insert(doc.clone(), state);
        }
        let side = [
            (&staging.index, index::encode(&next, sealer)),
            (&staging.cursors, super::cursors::encode(&self.cursors(), sealer)),
            (
                &staging.blob_ages,
                super::blob_ages::encode(&self.blob_unreferenced_since(), sealer),
            ),
            (
                &staging.last_seen,
                super::last_seen::encode(&self.last_seen(), sealer),
            ),
            (&staging.wal, seal::header(sealer, super::wal::MAGIC).0),
        ];
        for (path, bytes) in side {
            super::checkpoint::write_file(path, &bytes)?;
            written.push(path.clone());
        }
        if let Some(s) = sealer {
            super::checkpoint::write_file(&staging.keycheck, &keycheck::encode(s.key_id()))?;
            written.push(staging.keycheck.clone());
        }
        self.sync_staged(staging, &written)?;
        Ok(report)
    }

    /// Writes `doc`'s content, read under the current key, as a compacted file under the new key.
    fn restage(
        &self,
        doc: &DocId,
        state: &EntryState,
        staging: &Layout,
        sealer: Option<&Sealer>,
    ) -> Result<std::path::PathBuf, String> {
        let path = self.layout.doc_path(doc);
        let bytes = layout::read_all(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        let label = self.layout.file_key(doc);
        let (_, parsed) = docfile::parse(&bytes, self.sealer(), label.as_bytes(), Some(doc))?;
        if parsed.state.as_ref() != Some(state) {
            return Err("file ends at an older state than the index".to_owned());
        }
        let new_label = staging.file_key(doc);
        let file =
            docfile::compacted(sealer, new_label.as_bytes(), doc, &parsed).ok_or("no state to write")?;
        let dir = staging.doc_dir(doc);
        layout::ensure_dir(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let out = staging.doc_path(doc);
        super::checkpoint::write_file(&out, &file).map_err(|e| e.to_string())?;
        self.stats.wrote(file.len());
        Ok(out)
    }

    /// Makes the staged files durable: one syncfs, or each file and directory.
    fn sync_staged(&self, staging: &Layout, written: &[std::path::PathBuf]) -> Result<(), StoreError> {
        let root = &self.layout.root;
        if durable::sync_filesystem(&self.root, &self.stats).map_err(|e| StoreError::io("syncfs", root, e))? {
            return Ok(());
        }
        let mut dirs = vec![staging.root.clone(), staging.docs.clone()];
        for path in written {
            let file = layout::open_read(path).map_err(|e| StoreError::io("open", path, e))?;
            durable::sync_file(&file, &self.stats).map_err(|e| StoreError::io("sync", path, e))?;
            dirs.extend(path.parent().map(Path::to_path_buf));
        }
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            durable::sync_dir(&dir, &self.stats).map_err(|e| StoreError::io("sync", &dir, e))?;
        }
        Ok(())
    }
}

/// At open, before anything is read: rolls a committed re-encryption forward, or deletes the
/// staging of one that never committed.
pub(crate) fn recover(layout: &Layout, stats: &Counters) -> Result<(), StoreError> {
    let staging = &layout.rekey;
    let commit = staging.join(COMMIT);
    match read_marker(&commit) {
        Ok(marker) if marker == SEALED || marker == PLAIN => {
            tracing::warn!(dir = %layout.root.display(), "finishing an interrupted re-encryption");
            roll_forward(layout, stats)
        }
        // Anything else was never committed (a marker is renamed into place whole): an earlier
        // version's kill mid-write left an empty one. The old store is untouched: undo.
        Ok(_) => {
            tracing::warn!(dir = %layout.root.display(), "undoing an interrupted re-encryption (incomplete commit marker)");
            std::fs::remove_dir_all(staging).map_err(|e| StoreError::io("remove", staging, e))?;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(staging).is_ok() {
                tracing::warn!(dir = %layout.root.display(), "undoing an interrupted re-encryption");
                std::fs::remove_dir_all(staging).map_err(|e| StoreError::io("remove", staging, e))?;
            }
            Ok(())
        }
        Err(e) => Err(StoreError::io("read", &commit, e)),
    }
}

/// Step 4 of the module docs; idempotent.
fn roll_forward(layout: &Layout, stats: &Counters) -> Result<(), StoreError> {
    let staging = &layout.rekey;
    let commit = staging.join(COMMIT);
    let sealed = read_marker(&commit).map_err(|e| StoreError::io("read", &commit, e))? == SEALED;
    let old_docs = layout.root.join("docs.old");
    let staged_docs = staging.join("docs");
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let rename =
        |from: &Path, to: &Path| std::fs::rename(from, to).map_err(|e| StoreError::io("rename onto", to, e));
    if exists(&staged_docs) {
        if exists(&layout.docs) {
            if exists(&old_docs) {
                std::fs::remove_dir_all(&old_docs).map_err(|e| StoreError::io("remove", &old_docs, e))?;
            }
            rename(&layout.docs, &old_docs)?;
        }
        rename(&staged_docs, &layout.docs)?;
    }
    for target in [
        &layout.index,
        &layout.cursors,
        &layout.blob_ages,
        &layout.last_seen,
        &layout.wal,
    ] {
        let name = target.file_name().unwrap_or_default();
        let staged = staging.join(name);
        if exists(&staged) {
            rename(&staged, target)?;
        }
    }
    let staged_check = staging.join("keycheck");
    if !sealed {
        remove_if_present(&layout.keycheck)?;
    } else if exists(&staged_check) {
        rename(&staged_check, &layout.keycheck)?;
    }
    durable::sync_dir(&layout.root, stats).map_err(|e| StoreError::io("sync", &layout.root, e))?;
    if exists(&old_docs) {
        std::fs::remove_dir_all(&old_docs).map_err(|e| StoreError::io("remove", &old_docs, e))?;
    }
    let quarantined =
        std::fs::read_dir(&layout.quarantine).map_err(|e| StoreError::io("list", &layout.quarantine, e))?;
    for entry in quarantined {
        let path = entry
            .map_err(|e| StoreError::io("list", &layout.quarantine, e))?
            .path();
        remove_if_present(&path)?;
    }
    remove_if_present(&commit)?;
    std::fs::remove_dir_all(staging).map_err(|e| StoreError::io("remove", staging, e))?;
    durable::sync_dir(&layout.root, stats).map_err(|e| StoreError::io("sync", &layout.root, e))
}

/// The commit marker's first bytes (a marker is a few bytes; nothing longer is read).
fn read_marker(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    layout::open_read(path)?.take(16).read_to_end(&mut out)?;
    Ok(out)
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}

/// Writes `bytes` to a new file at `path` and syncs it.
fn write_synced(path: &Path, bytes: &[u8], stats: &Counters) -> Result<(), StoreError> {
    super::checkpoint::write_file(path, bytes)?;
    let file = layout::open_read(path).map_err(|e| StoreError::io("open", path, e))?;
    durable::sync_file(&file, stats).map_err(|e| StoreError::io("sync", path, e))
}
