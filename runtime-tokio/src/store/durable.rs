//! Durability primitives. Every call is counted in [`super::StoreStats::fsyncs`].

use std::fs::File;
use std::io;
use std::path::Path;

use super::error::StoreError;
use super::stats::Counters;

/// Makes `file`'s data (and size) durable: fdatasync on Linux, F_FULLFSYNC on Apple systems
/// (plain fsync there does not flush the drive cache), `sync_data` elsewhere.
pub(crate) fn sync_file(file: &File, stats: &Counters) -> io::Result<()> {
    stats.fsync();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let result = rustix::fs::fdatasync(file).map_err(io::Error::from);
    #[cfg(target_vendor = "apple")]
    let result = rustix::fs::fcntl_fullfsync(file).map_err(io::Error::from);
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    let result = file.sync_data();
    result
}

/// Makes `dir`'s entries (creations, renames, removals) durable.
pub(crate) fn sync_dir(dir: &Path, stats: &Counters) -> io::Result<()> {
    // Plain open: the storage directory itself may be reached through a symlink.
    let file = File::open(dir)?;
    stats.fsync();
    file.sync_all()
}

/// Whether [`sync_filesystem`] syncs (else a checkpoint syncs the files it wrote one by one, and
/// the store remembers which).
pub(crate) const HAS_SYNCFS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Makes everything written to the file system holding `root` durable in one call (syncfs).
/// Returns `Ok(false)` where syncfs does not exist; the caller then syncs file by file.
pub(crate) fn sync_filesystem(root: &File, stats: &Counters) -> io::Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        stats.fsync();
        rustix::fs::syncfs(root)?;
        Ok(true)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (root, stats);
        Ok(false)
    }
}

/// Durably replaces the small side file `path` with `bytes`: written to `tmp`, synced, renamed
/// over `path`, the directory `root` synced (the cursors, the blob ages).
pub(crate) fn replace_side_file(
    tmp: &Path,
    path: &Path,
    root: &Path,
    bytes: &[u8],
    stats: &Counters,
) -> Result<(), StoreError> {
    super::checkpoint::write_file(tmp, bytes)?;
    let file = File::open(tmp).map_err(|e| StoreError::io("open", tmp, e))?;
    sync_file(&file, stats).map_err(|e| StoreError::io("sync", tmp, e))?;
    std::fs::rename(tmp, path).map_err(|e| StoreError::io("rename onto", path, e))?;
    sync_dir(root, stats).map_err(|e| StoreError::io("sync", root, e))?;
    stats.wrote(bytes.len());
    Ok(())
}

/// The decoded content of the side file `path`, or none when it is missing or fails to read or
/// decode (logged as `what`: the caller starts again from nothing).
pub(crate) fn read_side_file<T>(
    path: &Path,
    decode: impl FnOnce(&[u8]) -> Result<Vec<T>, String>,
    what: &str,
) -> Vec<T> {
    let read = match std::fs::read(path) {
        Ok(bytes) => decode(&bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => Err(e.to_string()),
    };
    read.unwrap_or_else(|e| {
        tracing::warn!(path = %path.display(), error = %e, "{what}");
        Vec::new()
    })
}
