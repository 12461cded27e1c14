//! Measurement (ignored by default; run with `cargo test -p humansync-server --release --test
//! idle_rss -- --ignored --nocapture`): the server binary's idle RSS with 10,000 documents.
//!
//! Preloads a data directory with `HUMANSYNC_RSS_DOCS` (default 10,000) note-sized documents —
//! the benchmarks' fixture, `humansync_benchkit::fixture` — starts the real `humansync-server`
//! binary on it, lets it sit idle for a few seconds and reads VmRSS and VmHWM from /proc. The
//! bound asserted is the target (64 MB). Benchmark 6 (`cargo bench -p humansync-server
//! --bench server -- --only 6`) measures the same server idle and while it serves a full sync.

mod support;

use std::path::Path;
use std::time::Duration;

use humansync_benchkit::fixture;
use humansync_benchkit::proc::mib;
use humansync_benchkit::server_process::ServerProcess;

#[test]
#[ignore = "measurement: run explicitly"]
fn idle_rss_with_ten_thousand_documents() {
    let docs: usize = std::env::var("HUMANSYNC_RSS_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("dir");
    let notes = fixture::build_notes(docs);
    fixture::preload_with(
        &dir.path().join(humansync_server::server::NODE_DIR),
        &notes,
        &humansync::KeySource::Off,
    );
    drop(notes);
    let server = ServerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_humansync-server")),
        dir.path(),
        support::PASSWORD,
    );
    // Idle: nothing connects; let start-up allocations settle.
    std::thread::sleep(Duration::from_secs(3));
    let memory = server.memory().expect("the server is still running");
    eprintln!(
        "idle server with {docs} documents: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        mib(memory.rss_kib),
        mib(memory.peak_kib)
    );
    server.stop();
    assert!(
        memory.rss_kib < 64 * 1024,
        "idle RSS {} KiB over the 64 MB target",
        memory.rss_kib
    );
}
