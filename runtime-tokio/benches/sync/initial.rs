//! Benchmark 1: initial sync of every note from the server peer to a freshly paired device
//! (a child process), until the device holds all of them durably; and the same documents by
//! plain per-document Automerge sync over iroh, measured in the same run.

use automerge::Automerge;

use crate::Size;
use crate::baseline;
use crate::child::{ChildProc, FromChild, ToChild};
use crate::common::{self, Traffic};
use crate::report::Report;
use crate::world::World;

/// Runs benchmark 1 `size.runs` times.
pub async fn run(world: &mut World, size: &Size, report: &mut Report) {
    let n = world.notes.len();
    let saved = world.saved_bytes as f64;
    // The baseline's server holds every document parsed before its clock starts.
    let mut parsed: Vec<Automerge> = world
        .notes
        .iter()
        .map(|note| Automerge::load(&note.saved).expect("fixture loads"))
        .collect();
    let ep = baseline::bind(vec![baseline::ALPN.to_vec()]).await;
    // Run directories are deleted after the last run, not between runs: this machine's root
    // filesystem is mounted with `discard`, and deleting a run's ~10,000 files made the next
    // run's fsyncs wait for the trims (runs after the first took 4.2 - 5.1 s instead of 1.0 -
    // 2.3 s; with the directories kept, every run took 1.1 - 1.2 s).
    let mut done_dirs = Vec::new();
    for run in 0..size.runs {
        // HumanSync.
        let dir = common::tempdir();
        let mut child = ChildProc::spawn(dir.path());
        child.send(&ToChild::Start);
        let FromChild::Ready { id: Some(id), .. } = child.recv() else {
            panic!("child did not start")
        };
        world.register(id).await;
        let server_before = world.server.stats().await.expect("stats");
        child.send(&ToChild::Sync {
            pairing: Some(world.pairing()),
            server: world.server.id(),
            addrs: world.server.addrs(),
            docs: n,
            changed: 0,
        });
        let FromChild::Synced(hs) = child.recv() else {
            panic!("child did not sync")
        };
        let server_after = world.server.stats().await.expect("stats");
        let server_side = common::session_with(&server_after, id).map(Traffic::of);
        child.exit();
        done_dirs.push(dir);
        eprintln!(
            "bench 1 run {run}: humansync {:.0} ms, {} B ({} B udp), peak {} KiB (heap {} KiB), {} loaded",
            hs.ms, hs.traffic.bytes, hs.traffic.udp_bytes, hs.peak_kib, hs.heap_peak_kib, hs.docs_loaded,
        );

        // Baseline: plain per-document Automerge sync.
        let dir = common::tempdir();
        let child = ChildProc::spawn(dir.path());
        let serve = {
            let ep = ep.clone();
            let mut docs = std::mem::take(&mut parsed);
            tokio::spawn(async move {
                baseline::serve(&ep, &mut docs).await;
                docs
            })
        };
        let am = baseline::child_sync(child, &ep, n);
        let docs = serve.await.expect("baseline server");
        parsed = docs;
        done_dirs.push(dir);

        eprintln!(
            "bench 1 run {run}: baseline {:.0} ms, {} B ({} B udp), peak {} KiB",
            am.ms, am.traffic.bytes, am.traffic.udp_bytes, am.peak_kib
        );
        let b = "1";
        report.add(b, "initial sync: wall time", "ms", "≤ 3,000 ms", hs.ms);
        report.add(
            b,
            "initial sync: session bytes / saved bytes",
            "×",
            "≤ 1.1×",
            hs.traffic.bytes as f64 / saved,
        );
        report.add(
            b,
            "initial sync: UDP bytes / saved bytes",
            "×",
            "≤ 1.1×",
            hs.traffic.udp_bytes as f64 / saved,
        );
        report.add(
            b,
            "initial sync: receiver peak RSS",
            "MiB",
            "≤ 150 MiB",
            hs.peak_kib as f64 / 1024.0,
        );
        report.add(
            b,
            "initial sync: receiver peak live heap (counted)",
            "MiB",
            "",
            hs.heap_peak_kib as f64 / 1024.0,
        );
        report.add(
            b,
            "initial sync: documents loaded by the device",
            "docs",
            "0",
            hs.docs_loaded as f64,
        );
        report.add(b, "baseline (per-doc Automerge sync): wall time", "ms", "", am.ms);
        report.add(
            b,
            "baseline: UDP bytes / saved bytes",
            "×",
            "",
            am.traffic.udp_bytes as f64 / saved,
        );
        report.add(
            b,
            "baseline: receiver peak RSS",
            "MiB",
            "",
            am.peak_kib as f64 / 1024.0,
        );
        report.add(b, "speed-up over baseline", "×", "≥ 5×", am.ms / hs.ms);

        // The floor: the same notes written as files and synced once, nothing else (§5).
        let floor = crate::floor::write(&world.notes);
        eprintln!(
            "bench 1 run {run}: floor {:.0} ms ({} files, {} B, one syncfs)",
            floor.ms, floor.files, floor.bytes
        );
        report.add(
            b,
            "floor (same notes as files + one syncfs): wall time",
            "ms",
            "",
            floor.ms,
        );
        report.add(b, "initial sync / floor", "×", "", hs.ms / floor.ms);
        report.add(b, "baseline / floor", "×", "", am.ms / floor.ms);

        if size.quick {
            // Counts only (never times): the whole set arrives unparsed, in bytes close to its saved size.
            assert_eq!(
                hs.docs_loaded, 0,
                "the device stores whole documents without loading them"
            );
            assert_eq!(
                server_after.docs_loaded - server_before.docs_loaded,
                n as u64,
                "the server reads each stored document once"
            );
            let limit = saved * 1.1 + 16_384.0;
            assert!(
                (hs.traffic.bytes as f64) <= limit,
                "initial sync moved {} session bytes for {saved} saved bytes",
                hs.traffic.bytes
            );
            assert!(
                hs.traffic.bytes as f64 >= saved,
                "every saved byte crossed the session"
            );
            assert_eq!(
                (floor.files, floor.bytes),
                (n, saved as u64),
                "the floor wrote every note's saved bytes"
            );
            let server_side = server_side.expect("the server saw the session");
            assert!(server_side.bytes as f64 >= saved, "the server counted them too");
        }
    }
    ep.close().await;
}
