//! Greps a storage directory for plaintext (issue 21, HS-REST-3/4/6): every byte of every file
//! and every file name under it, as the at-rest tests of devices (`runtime-tokio/tests/
//! node_at_rest.rs`) and of the server binary (`server/tests/at_rest.rs`) do after a workload.

use std::path::{Path, PathBuf};

/// Every file under `dir`, recursively (none when `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `"<needle> in <path>"` for every needle found in the bytes or the path of a file under `dir`
/// for which `include` holds; empty when the directory holds none of them.
pub fn needles_under(dir: &Path, needles: &[&[u8]], include: impl Fn(&Path) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for path in files_under(dir).into_iter().filter(|p| include(p)) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let name = path.to_string_lossy().into_owned();
        for needle in needles {
            let in_bytes = !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == *needle);
            let in_name = std::str::from_utf8(needle).is_ok_and(|n| name.contains(n));
            if in_bytes || in_name {
                found.push(format!(
                    "{:?} in {}",
                    String::from_utf8_lossy(needle),
                    path.display()
                ));
            }
        }
    }
    found
}
