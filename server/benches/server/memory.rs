//! Benchmark 6: the memory of the real `humansync-server` binary (a child process, so its
//! `/proc/<pid>/status` is its own) with a data directory preloaded with the note fixture.
//!
//! Per run: preload a fresh data directory, start the server, let it sit idle, read `VmRSS`
//! (idle); then a fresh device in this process pairs by `POST /pair` and syncs every note until it
//! holds them all durably, while a thread samples the server's `VmRSS` every 2 ms; afterwards
//! `VmHWM` (the kernel's exact peak since start, start-up included) is the peak.

use std::path::Path;
use std::time::{Duration, Instant};

use humansync_benchkit::fixture;
use humansync_benchkit::node::{count_remote_changes, ms_since, start, wait_synced};
use humansync_benchkit::proc::{RssSampler, mib};
use humansync_benchkit::report::Report;
use humansync_benchkit::server_process::ServerProcess;

use crate::support::PASSWORD;
use crate::{Size, tempdir};

/// How often the sampler reads the server's `VmRSS` during the sync.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);

/// Runs benchmark 6 `size.runs` times.
pub async fn run(size: &Size, report: &mut Report) {
    let t = Instant::now();
    let notes = fixture::build_notes(size.docs);
    eprintln!(
        "fixture: {} notes, {} saved bytes, built in {:.1} s",
        notes.len(),
        fixture::saved_bytes(&notes),
        t.elapsed().as_secs_f64()
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_humansync-server"));
    for run in 0..size.runs {
        let data = tempdir();
        fixture::preload_with(
            &data.path().join(humansync_server::server::NODE_DIR),
            &notes,
            &humansync::KeySource::Off,
        );
        let mut server = ServerProcess::start(bin, data.path(), PASSWORD);
        tokio::time::sleep(size.idle).await;
        let idle = server.memory().expect("the server is running");

        let device_dir = tempdir();
        let device = start(device_dir.path()).await;
        let changed = count_remote_changes(&device);
        let sampler = RssSampler::start(server.pid(), SAMPLE_EVERY);
        let t0 = Instant::now();
        device
            .pair_with(&server.url(), PASSWORD)
            .await
            .expect("POST /pair");
        let anchor = device
            .registry()
            .await
            .expect("registry")
            .anchor()
            .expect("a paired device knows the server as its anchor");
        wait_synced(
            &device,
            anchor,
            size.docs,
            (&changed, 0),
            Duration::from_secs(600),
        )
        .await;
        let sync_ms = ms_since(t0);
        let (sampled_kib, samples) = sampler.stop();
        let after = server.memory().expect("the server is still running");
        let synced = device.list_docs("notes/").await.expect("list").len();
        assert_eq!(synced, size.docs, "the device holds every note");
        assert!(server.running(), "the server is still running");
        // VmRSS and VmHWM come from per-thread counters the kernel folds in lazily: they may
        // disagree by a few pages, so the peak is the larger of the two readings.
        assert!(
            idle.rss_kib > 0 && samples > 0,
            "no memory readings: idle {idle:?}, {samples} samples"
        );
        let peak_kib = after.peak_kib.max(sampled_kib);
        eprintln!(
            "6 run {run}: idle VmRSS {:.1} MiB (anonymous {:.1}); sync of {synced} notes {sync_ms:.0} ms; sampled VmRSS max {:.1} MiB ({samples} readings); VmHWM {:.1} MiB; VmRSS after {:.1} MiB",
            mib(idle.rss_kib),
            mib(idle.anon_kib),
            mib(sampled_kib),
            mib(after.peak_kib),
            mib(after.rss_kib)
        );
        let docs = format!("{} docs", size.docs);
        report.add(
            "6",
            &format!("server idle RSS, {docs} (VmRSS)"),
            "MiB",
            "≤ 64 MB (61 MiB)",
            mib(idle.rss_kib),
        );
        report.add(
            "6",
            "… of which anonymous (RssAnon: heap and stacks; the rest is mostly the binary's code)",
            "MiB",
            "",
            mib(idle.anon_kib),
        );
        report.add(
            "6",
            "server peak RSS while serving the initial sync (VmHWM after it)",
            "MiB",
            "≤ 200 MB (191 MiB)",
            mib(peak_kib),
        );
        report.add(
            "6",
            "… highest VmRSS sampled during the sync",
            "MiB",
            "",
            mib(sampled_kib),
        );
        report.add("6", "… VmRSS after the sync", "MiB", "", mib(after.rss_kib));
        report.add(
            "6",
            "initial sync, POST /pair to all durable on the device",
            "ms",
            "",
            sync_ms,
        );
        report.add(
            "6",
            "documents synced to the device",
            "docs",
            &docs,
            synced as f64,
        );
        device.shutdown().await.expect("device shutdown");
        server.stop();
    }
}
