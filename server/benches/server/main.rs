//! humansync-server benchmarks over real iroh connections on loopback (relays and mDNS off).
//! See BENCHMARKS.md for what each one measures, the targets and the results.
//!
//! - 6: the memory of the real `humansync-server` binary (a child process) holding 10,000 notes,
//!   idle and while it serves a full initial sync to a freshly paired device.
//! - 8: revocation, from the `DELETE /devices/{id}` request to the revoked device's connections
//!   closed on the server and on two devices that were connected to it.
//!
//! `cargo bench -p humansync-server --bench server` runs both at full size (10,000 notes, 5 runs);
//! `-- --quick` runs a small size and asserts counts only (documents synced, connections closed —
//! never times or sizes), which CI does in the test profile:
//! `cargo test -p humansync-server --bench server -- --quick`. `--only 6`, `--runs N`,
//! `--docs N` and `--idle-ms N` (how long the server sits before its idle memory is read)
//! override. The fixture, the table and the memory readings are `humansync-benchkit`'s,
//! shared with `cargo bench -p humansync --bench sync` (benchmarks 1–5, 7).

#![allow(clippy::unwrap_used, unreachable_pub)] // Benchmark code: a failed unwrap is a failed run; `pub` shares items between its modules.

mod memory;
mod revoke;
// The integration tests' helpers: the same server configuration, password and HTTP client.
#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use humansync_benchkit::args::Args;
use humansync_benchkit::machine::describe_machine;
use humansync_benchkit::report::Report;

/// How big a run is.
pub struct Size {
    /// `--quick`: the CI size.
    pub quick: bool,
    /// Notes the server holds (benchmark 6).
    pub docs: usize,
    /// Runs of each benchmark.
    pub runs: usize,
    /// How long the server sits idle before its idle memory is read (benchmark 6).
    pub idle: Duration,
}

fn main() {
    let args = Args::from_env();
    let quick = args.quick();
    let size = Size {
        quick,
        docs: args.number("--docs", if quick { 200 } else { 10_000 }),
        runs: args.number("--runs", if quick { 1 } else { 5 }),
        idle: Duration::from_millis(args.number("--idle-ms", if quick { 300 } else { 3_000 }) as u64),
    };
    let only = args.only([6, 8]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(async {
        let mut report = Report::default();
        if only.contains(&6) {
            memory::run(&size, &mut report).await;
        }
        if only.contains(&8) {
            revoke::run(&size, &mut report).await;
        }
        report
    });
    println!("{}", describe_machine());
    println!("{}", report.table());
}

/// A temporary directory next to the build (same disk as the target dir).
pub fn tempdir() -> tempfile::TempDir {
    humansync_benchkit::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
}
