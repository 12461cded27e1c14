//! Where things live under the storage directory, and how files are opened there.
//!
//! ```text
//! <root>/lock                  flock'd while a DocStore has the directory open
//! <root>/wal                   write-ahead log (wal.rs)
//! <root>/index                 index snapshot written at each checkpoint (index.rs)
//! <root>/cursors               cursors into peers' change logs (cursors.rs)
//! <root>/blob-ages             since when unreferenced blobs are unreferenced (blob_ages.rs)
//! <root>/last-seen             when a session with each peer was last open (last_seen.rs)
//! <root>/keycheck              the data key's id when the store is encrypted (keycheck.rs)
//! <root>/rekey/                a re-encryption being prepared or rolled forward (rekey.rs)
//! <root>/docs/<kk>/<key>.hsd   one file per document (docfile.rs)
//! <root>/tmp/                  files being written; emptied at open
//! <root>/quarantine/<key>.<n>.hsd   corrupt files moved aside, never read again by the store
//! ```
//! `<key>` is 32 hex digits of BLAKE3(doc id) — keyed with the data key's file-name subkey when the
//! store is encrypted, so names reveal no document id (HS-REST-4) — and `<kk>` its first two:
//! names never depend on the id's characters (see the module docs of `store` for why).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use humansync_protocol::DocId;

/// Domain separation for file names.
const KEY_CONTEXT: &[u8] = b"humansync/store/file/v1\0";

/// The paths of one store.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) root: PathBuf,
    pub(crate) docs: PathBuf,
    pub(crate) tmp: PathBuf,
    pub(crate) quarantine: PathBuf,
    pub(crate) wal: PathBuf,
    pub(crate) index: PathBuf,
    pub(crate) cursors: PathBuf,
    pub(crate) blob_ages: PathBuf,
    pub(crate) last_seen: PathBuf,
    pub(crate) lock: PathBuf,
    pub(crate) keycheck: PathBuf,
    pub(crate) rekey: PathBuf,
    /// The file-name key of an encrypted store.
    names: Option<[u8; 32]>,
}

impl Layout {
    /// The layout under `root`; `names` keys the document file names of an encrypted store.
    pub(crate) fn new(root: &Path, names: Option<[u8; 32]>) -> Self {
        Layout {
            root: root.to_path_buf(),
            docs: root.join("docs"),
            tmp: root.join("tmp"),
            quarantine: root.join("quarantine"),
            wal: root.join("wal"),
            index: root.join("index"),
            cursors: root.join("cursors"),
            blob_ages: root.join("blob-ages"),
            last_seen: root.join("last-seen"),
            lock: root.join("lock"),
            keycheck: root.join("keycheck"),
            rekey: root.join("rekey"),
            names,
        }
    }

    /// The directory holding `doc`'s file.
    pub(crate) fn doc_dir(&self, doc: &DocId) -> PathBuf {
        self.docs.join(&self.file_key(doc)[..2])
    }

    /// `doc`'s file.
    pub(crate) fn doc_path(&self, doc: &DocId) -> PathBuf {
        self.doc_dir(doc).join(format!("{}.hsd", self.file_key(doc)))
    }

    /// Where `doc`'s replacement file is written before it is renamed into place.
    pub(crate) fn tmp_path(&self, doc: &DocId) -> PathBuf {
        self.tmp.join(format!("{}.hsd", self.file_key(doc)))
    }

    /// Where the index snapshot is written before it is renamed into place.
    pub(crate) fn index_tmp(&self) -> PathBuf {
        self.tmp.join("index")
    }

    /// Where the blob ages file is written before it is renamed into place.
    pub(crate) fn blob_ages_tmp(&self) -> PathBuf {
        self.tmp.join("blob-ages")
    }

    /// Where the last-seen file is written before it is renamed into place.
    pub(crate) fn last_seen_tmp(&self) -> PathBuf {
        self.tmp.join("last-seen")
    }

    /// Where the cursors file is written before it is renamed into place.
    pub(crate) fn cursors_tmp(&self) -> PathBuf {
        self.tmp.join("cursors")
    }

    /// The `n`th quarantine slot for a file named by `key`.
    pub(crate) fn quarantine_path(&self, key: &str, n: u64) -> PathBuf {
        self.quarantine.join(format!("{key}.{n}.hsd"))
    }

    /// 32 hex digits naming `doc`'s file (keyed in an encrypted store).
    pub(crate) fn file_key(&self, doc: &DocId) -> String {
        file_key(doc, self.names.as_ref())
    }
}

/// 32 hex digits naming `doc`'s file, keyed BLAKE3 with `names` when given.
pub(crate) fn file_key(doc: &DocId, names: Option<&[u8; 32]>) -> String {
    let mut hasher = match names {
        Some(key) => blake3::Hasher::new_keyed(key),
        None => blake3::Hasher::new(),
    };
    hasher.update(KEY_CONTEXT);
    hasher.update(doc.as_str().as_bytes());
    let hash = hasher.finalize();
    let mut out = String::with_capacity(32);
    for b in &hash.as_bytes()[..16] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Open options that refuse to follow a symlink in the last path component.
pub(crate) fn options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The flag values are small positive constants; the cast to c_int is lossless.
        opts.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    opts
}

/// Opens a file for reading without following a symlink.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    options().read(true).open(path)
}

/// Reads a whole file without following a symlink.
pub(crate) fn read_all(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = open_read(path)?;
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(out)
}

/// Creates `dir` if missing and checks that it is a real directory, not a symlink.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)?;
            if meta.is_dir() {
                Ok(())
            } else {
                Err(io::Error::other(
                    "exists and is not a directory (symlinks are refused)",
                ))
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_width_hex_and_distinct() {
        let a = file_key(&DocId::new("a").unwrap(), None);
        let b = file_key(&DocId::new("A").unwrap(), None);
        let keyed = file_key(&DocId::new("a").unwrap(), Some(&[9; 32]));
        assert_ne!(a, keyed, "an encrypted store's names must depend on the key");
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b, "case-insensitive file systems must not merge ids");
    }

    #[test]
    fn paths_stay_under_the_root() {
        let layout = Layout::new(Path::new("/s"), None);
        let doc = DocId::new("app/x..y/z").unwrap();
        let path = layout.doc_path(&doc);
        assert!(path.starts_with("/s/docs"));
        assert_eq!(path.components().count(), 5);
    }
}
