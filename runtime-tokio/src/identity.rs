//! The device's secret key on disk: `<storage>/identity.key`, the 32-byte Ed25519 secret, mode
//! 0600. Its public half is the device id (HS-ID-1).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::nofollow_options;

/// Distinguishes the temporary files of concurrent callers in one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The key file's name inside the storage directory.
pub const IDENTITY_FILE: &str = "identity.key";

/// Why the identity could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A file-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The key file grants access to group or others; the key may have leaked.
    #[error(
        "{path} is accessible by group or others (mode {mode:o}); refusing to use it (chmod 600 if it is safe)"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not hold exactly 32 bytes.
    #[error("{path} holds {len} bytes; an identity key is exactly 32")]
    WrongSize {
        /// The key file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// The key path is a symlink, directory or other non-regular file.
    #[error("{path} is not a regular file (symlinks are refused)")]
    NotAFile {
        /// The key path.
        path: PathBuf,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> IdentityError + 'a {
    move |source| IdentityError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Loads the secret key from `dir/identity.key`, or creates it from `fresh()` when missing.
///
/// Creation is atomic: the key is written to a private temporary file (O_EXCL, mode 0600),
/// fsynced, and hard-linked to `identity.key`, which fails if another process created it first
/// (that key is then used); the directory is fsynced before the key is returned. A key file that
/// is a symlink, is accessible by group or others, or is not exactly 32 bytes is refused.
pub fn load_or_create_identity(
    dir: &Path,
    fresh: impl FnOnce() -> [u8; 32],
) -> Result<[u8; 32], IdentityError> {
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    load_or_create_key(&dir.join(IDENTITY_FILE), fresh)
}

/// Loads the 32-byte secret at `path`, or creates it from `fresh()` when missing, with the rules
/// of [`load_or_create_identity`] (the identity key and the data key, HS-REST-2).
pub(crate) fn load_or_create_key(
    path: &Path,
    fresh: impl FnOnce() -> [u8; 32],
) -> Result<[u8; 32], IdentityError> {
    if let Some(key) = read_key(path)? {
        return Ok(key);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let key = fresh();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{name}.tmp.{}.{n}", std::process::id()));
    // A leftover of a crashed process with the same pid; it was never published.
    let _ = std::fs::remove_file(&tmp);
    let written = write_private(&tmp, &key);
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path).map_err(io_err("link", path)));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(IdentityError::Io {
            op: "link", source, ..
        }) if source.kind() == io::ErrorKind::AlreadyExists => {
            // Another process created the key between our read and our link: use theirs.
            return read_key(path)?.ok_or(IdentityError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(e),
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))?;
    Ok(key)
}

/// Durably writes a 0600 key file at `path` (replacing one that exists), through a temporary
/// file and a rename, the directory synced.
pub(crate) fn write_key_file(path: &Path, key: &[u8; 32]) -> Result<(), IdentityError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, key)?;
    std::fs::rename(&tmp, path).map_err(io_err("rename onto", path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))
}

/// Durably removes the key file at `path` (absent is fine), the directory synced.
pub(crate) fn remove_key_file(path: &Path) -> Result<(), IdentityError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("remove", path)(e)),
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))
}

/// Durably renames the key file `from` onto `to` (replacing it), the directory synced.
pub(crate) fn rename_key_file(from: &Path, to: &Path) -> Result<(), IdentityError> {
    std::fs::rename(from, to).map_err(io_err("rename onto", to))?;
    let dir = to.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))
}

/// The 32-byte secret at `path` under the identity rules, `None` if there is no file.
pub(crate) fn read_key_file(path: &Path) -> Result<Option<[u8; 32]>, IdentityError> {
    read_key(path)
}

/// Writes `key` to a new file only the owner can access, and fsyncs it.
fn write_private(path: &Path, key: &[u8; 32]) -> Result<(), IdentityError> {
    let mut opts = nofollow_options();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(io_err("create", path))?;
    file.write_all(key).map_err(io_err("write", path))?;
    file.sync_all().map_err(io_err("sync", path))
}

/// The key at `path`, `None` if there is no file.
fn read_key(path: &Path) -> Result<Option<[u8; 32]>, IdentityError> {
    let mut opts = nofollow_options();
    let mut file = match opts.read(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(_) if is_symlink(path) => {
            return Err(IdentityError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let meta = file.metadata().map_err(io_err("stat", path))?;
    if !meta.is_file() {
        return Err(IdentityError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    if meta.len() != 32 {
        return Err(IdentityError::WrongSize {
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    let mut key = [0u8; 32];
    file.read_exact(&mut key).map_err(io_err("read", path))?;
    Ok(Some(key))
}

/// True when `path` is a symlink (opening it with O_NOFOLLOW fails with ELOOP).
fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create_identity(dir.path(), || [7; 32]).unwrap();
        assert_eq!(key, [7; 32]);
        let again = load_or_create_identity(dir.path(), || panic!("must not create a second key")).unwrap();
        assert_eq!(again, key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(IDENTITY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }

    #[cfg(unix)]
    #[test]
    fn group_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_create_identity(dir.path(), || [1; 32]).unwrap();
        let path = dir.path().join(IDENTITY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_or_create_identity(dir.path(), || [2; 32]).unwrap_err();
        assert!(
            matches!(err, IdentityError::Permissions { mode: 0o640, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
    }

    #[cfg(unix)]
    #[test]
    fn wrong_size_and_symlink_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(IDENTITY_FILE);
        std::fs::write(&path, [0u8; 31]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = load_or_create_identity(dir.path(), || [2; 32]).unwrap_err();
        assert!(matches!(err, IdentityError::WrongSize { len: 31, .. }), "{err}");

        let other = tempfile::tempdir().unwrap();
        let target = other.path().join("real.key");
        std::fs::write(&target, [3u8; 32]).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let linked = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&target, linked.path().join(IDENTITY_FILE)).unwrap();
        let err = load_or_create_identity(linked.path(), || [2; 32]).unwrap_err();
        assert!(matches!(err, IdentityError::NotAFile { .. }), "{err}");
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let dir = dir.path();
                    s.spawn(move || load_or_create_identity(dir, || [i; 32]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    }
}
