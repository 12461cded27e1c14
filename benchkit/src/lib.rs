//! # humansync-benchkit
//!
//! What the benchmarks of `humansync` (`runtime-tokio/benches/sync`) and `humansync-server`
//! (`server/benches/server`) share, so that both measure the same fixture the same way and print
//! the same table: see BENCHMARKS.md.
//!
//! Benchmark code: a failed `expect` is a failed run, so helpers panic with a message instead of
//! returning errors.

#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used)]

pub mod anchor;
pub mod args;
pub mod at_rest;
pub mod fixture;
pub mod heavy;
pub mod machine;
pub mod node;
pub mod proc;
pub mod report;
pub mod server_process;
pub mod timeline;
pub mod wait;

pub use anchor::Anchor;
pub use wait::eventually;

/// A temporary directory under `base` (benches pass `env!("CARGO_TARGET_TMPDIR")`: the same disk
/// as the build), removed when dropped.
pub fn tempdir_in(base: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hs-bench-")
        .tempdir_in(base)
        .expect("temp dir")
}
