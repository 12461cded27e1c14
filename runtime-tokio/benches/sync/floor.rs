//! The physical floor of benchmark 1 (issue 22 §5): writing the same notes durably on this
//! machine with nothing else — one file per note with its saved bytes, then one `syncfs` — no
//! network, no parsing, no index. The initial sync is reported as a ratio to it.

use std::io::Write;
use std::time::Instant;

use crate::fixture::Note;

/// What writing the floor took.
pub struct Floor {
    /// From the first file created to `syncfs` returning, in ms.
    pub ms: f64,
    /// Files written (one per note).
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes every note's saved bytes to its own file in a fresh directory on the benchmarks' disk,
/// then syncs that file system once.
pub fn write(notes: &[Note]) -> Floor {
    let dir = crate::common::tempdir();
    let start = Instant::now();
    let mut bytes = 0;
    for (i, note) in notes.iter().enumerate() {
        let mut f = std::fs::File::create(dir.path().join(format!("{i:06}"))).expect("create");
        f.write_all(&note.saved).expect("write");
        bytes += note.saved.len() as u64;
    }
    let d = std::fs::File::open(dir.path()).expect("open the directory");
    rustix::fs::syncfs(&d).expect("syncfs");
    let ms = start.elapsed().as_secs_f64() * 1e3;
    // Kept until the end like the runs' directories (trims after deletes slow the next run).
    std::mem::forget(dir);
    Floor {
        ms,
        files: notes.len(),
        bytes,
    }
}
