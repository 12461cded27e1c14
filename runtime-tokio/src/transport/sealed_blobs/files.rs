//! The store's directory and its small files: layout, crash-safe replacement, bounded reads and
//! the key check.
//!
//! ```text
//! <dir>/keycheck            magic ‖ key id (16 bytes): a wrong key is refused at open
//! <dir>/tags                magic ‖ sealed tag list (tags.rs)
//! <dir>/b/<name>/state      magic ‖ sealed state: hash, size, groups present (state.rs)
//! <dir>/b/<name>/data       sealed chunk groups at fixed slots (groups.rs)
//! <dir>/b/<name>/outboard   the plain BLAKE3 outboard, pre-order (outboard.rs)
//! <dir>/tmp/                imports being staged; emptied at open
//! <dir>/quarantine/         entries whose state failed authentication
//! ```
//!
//! `<name>` is the keyed hash of the blob hash (cipher.rs). Small files are replaced whole:
//! write `*.tmp`, sync, rename over, sync the directory — a kill -9 leaves the old or the new
//! file, never a torn one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::SealedBlobError;
use crate::keys::KeyId;

/// Magic of the key check file.
const KEYCHECK_MAGIC: &[u8; 8] = b"HSBKEY\x00\x01";

/// The paths of a store rooted at a directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The store's directory.
    pub(crate) root: PathBuf,
    /// The key check file.
    pub(crate) keycheck: PathBuf,
    /// The tags file.
    pub(crate) tags: PathBuf,
    /// The directory of blob entries.
    pub(crate) entries: PathBuf,
    /// The staging directory of imports.
    pub(crate) tmp: PathBuf,
    /// Entries set aside after failing authentication.
    pub(crate) quarantine: PathBuf,
}

impl Layout {
    /// The layout under `root`.
    pub(crate) fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
            keycheck: root.join("keycheck"),
            tags: root.join("tags"),
            entries: root.join("b"),
            tmp: root.join("tmp"),
            quarantine: root.join("quarantine"),
        }
    }

    /// Creates the directories; empties `tmp/` (imports a kill interrupted).
    pub(crate) fn create(&self) -> Result<(), SealedBlobError> {
        if self.tmp.exists() {
            std::fs::remove_dir_all(&self.tmp).map_err(|e| SealedBlobError::io("remove", &self.tmp, e))?;
        }
        for dir in [&self.root, &self.entries, &self.tmp, &self.quarantine] {
            std::fs::create_dir_all(dir).map_err(|e| SealedBlobError::io("create", dir, e))?;
        }
        Ok(())
    }

    /// The directory of the entry named `name`.
    pub(crate) fn entry(&self, name: &str) -> PathBuf {
        self.entries.join(name)
    }

    /// A fresh staging directory for one import.
    pub(crate) fn staging(&self) -> Result<PathBuf, SealedBlobError> {
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| SealedBlobError::Random(e.to_string()))?;
        let dir = self.tmp.join(hex::encode(id));
        std::fs::create_dir_all(&dir).map_err(|e| SealedBlobError::io("create", &dir, e))?;
        Ok(dir)
    }
}

/// Syncs a directory (its entries: created, renamed, removed files).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SealedBlobError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SealedBlobError::io("sync", dir, e))
}

/// Replaces `path` by a file holding `bytes`, crash-safely (see the module docs).
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<(), SealedBlobError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| SealedBlobError::io("create", &tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| SealedBlobError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| SealedBlobError::io("rename onto", path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The whole file at `path`, refused before reading when larger than `max` bytes. `None` when
/// it does not exist.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, SealedBlobError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SealedBlobError::io("open", path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| SealedBlobError::io("stat", path, e))?
        .len();
    if len > max {
        return Err(SealedBlobError::malformed(
            path,
            format!("{len} bytes, more than the {max} allowed"),
        ));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(max)
        .read_to_end(&mut out)
        .map_err(|e| SealedBlobError::io("read", path, e))?;
    Ok(Some(out))
}

/// Checks the key id in `keycheck`, writing it when the store is new.
pub(crate) fn check_key(layout: &Layout, id: KeyId) -> Result<(), SealedBlobError> {
    match read_key_id(layout)? {
        None => {
            let mut out = KEYCHECK_MAGIC.to_vec();
            out.extend_from_slice(&id.0);
            replace(&layout.keycheck, &out)
        }
        Some(found) if found == id => Ok(()),
        Some(found) => Err(SealedBlobError::WrongKey {
            path: layout.keycheck.clone(),
            found: found.to_string(),
            given: id.to_string(),
        }),
    }
}

/// Removes a file, ignoring one already gone.
pub(crate) fn remove_file(path: &Path) -> Result<(), SealedBlobError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SealedBlobError::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// Removes a directory tree, ignoring one already gone.
pub(crate) fn remove_dir(path: &Path) -> Result<(), SealedBlobError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SealedBlobError::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// The key id in a store's `keycheck`, `None` when there is none (no sealed store).
pub(crate) fn read_key_id(layout: &Layout) -> Result<Option<KeyId>, SealedBlobError> {
    let Some(bytes) = read_bounded(&layout.keycheck, 64)? else {
        return Ok(None);
    };
    parse_key_id(&layout.keycheck, &bytes).map(Some)
}

/// The key id in `bytes`, the contents of the key check file `path` (named in errors).
pub(crate) fn parse_key_id(path: &Path, bytes: &[u8]) -> Result<KeyId, SealedBlobError> {
    let found = bytes
        .strip_prefix(&KEYCHECK_MAGIC[..])
        .and_then(|rest| <[u8; 16]>::try_from(rest).ok())
        .ok_or_else(|| SealedBlobError::malformed(path, "not a blob store key check"))?;
    Ok(KeyId(found))
}

/// Syncs every file and directory under `dir` (a staged store before its commit).
pub(crate) fn sync_tree(dir: &Path) -> Result<(), SealedBlobError> {
    let list = std::fs::read_dir(dir).map_err(|e| SealedBlobError::io("list", dir, e))?;
    for item in list {
        let path = item.map_err(|e| SealedBlobError::io("list", dir, e))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| SealedBlobError::io("sync", &path, e))?;
        }
    }
    sync_dir(dir)
}
