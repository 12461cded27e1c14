//! Durability primitives. Every call is counted in [`super::StoreStats::fsyncs`].

use std::fs::File;
use std::io;
use std::path::Path;

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
