//! A size-limited tmpfs for tests that need a real full disk (root only). Shared by the store's
//! unit tests and the node tests (`tests/node_support` includes this file).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // Test helper.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for the life of the value (unmounted on drop).
pub(crate) struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`8m`); `None`, with a printed reason, when not root.
    pub(crate) fn mount(size: &str, test: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("SKIPPED {test}: needs root to mount a size-limited tmpfs");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed (as root)");
        Some(Tmpfs { _dir: dir, path })
    }

    /// The mount point.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Fills the file system with a ballast file until a write fails with a full disk.
    pub(crate) fn fill(&self) -> Ballast {
        let path = self.path.join("ballast");
        let mut file = File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let buf = vec![0xBA; chunk];
            loop {
                match file.write(&buf) {
                    Ok(n) if n == buf.len() => {}
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(e) => panic!("filling the disk: {e}"),
                }
            }
        }
        Ballast { file, path }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// The file that fills the disk.
pub(crate) struct Ballast {
    file: File,
    path: PathBuf,
}

impl Ballast {
    /// Frees `bytes` of the ballast.
    pub(crate) fn free(&mut self, bytes: u64) {
        let len = self.file.metadata().unwrap().len();
        self.file.set_len(len.saturating_sub(bytes)).unwrap();
    }

    /// Deletes the ballast: the space returns.
    pub(crate) fn remove(self) {
        drop(self.file);
        std::fs::remove_file(&self.path).unwrap();
    }
}
