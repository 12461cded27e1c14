//! The data directory, private to its owner (issue 16 §3): created 0700, an existing one narrowed
//! to 0700, so the identity, documents, blobs, sync state and the app's socket under it are not
//! readable by other local accounts whatever the umask gave each file.

use std::path::Path;

/// Creates `dir` (and missing parents) with mode 0700, or narrows an existing `dir` to 0700 if
/// other accounts had any access to it.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::private_dir;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn a_new_directory_is_0700_and_an_open_one_is_narrowed() {
        let root = tempfile::tempdir().expect("dir");
        let fresh = root.path().join("a/b");
        private_dir(&fresh).expect("create");
        assert_eq!(mode(&fresh), 0o700);
        let open = root.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&open).expect("narrow");
        assert_eq!(mode(&open), 0o700);
    }
}
