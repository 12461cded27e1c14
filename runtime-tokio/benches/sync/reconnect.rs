//! Benchmarks 2, 3 and 7: a device that holds every note restarts (a fresh child process over
//! the same storage) and reconnects to the server peer — with nothing changed (2: round trips,
//! bytes, time from dial to in sync, documents loaded; 7: from process start to that first
//! no-change sync), and after the server changed k notes while it was away (3).

use tokio::task::JoinSet;

use crate::Size;
use crate::child::{ChildProc, FromChild, ToChild};
use crate::common::{self, Traffic};
use crate::fixture::note_id;
use crate::report::Report;
use crate::world::World;

/// A device that holds every note, stored under `dir`.
pub struct Device {
    pub dir: tempfile::TempDir,
    pub id: humansync::DeviceId,
}

/// Pairs a fresh device with the server and lets it receive every note once.
pub async fn synced_device(world: &mut World) -> Device {
    let dir = common::tempdir();
    let mut child = ChildProc::spawn(dir.path());
    child.send(&ToChild::Start);
    let FromChild::Ready { id: Some(id), .. } = child.recv() else {
        panic!("child did not start")
    };
    world.register(id).await;
    child.send(&ToChild::Sync {
        pairing: Some(world.pairing()),
        server: world.server.id(),
        addrs: world.server.addrs(),
        docs: world.notes.len(),
        changed: 0,
    });
    let FromChild::Synced(_) = child.recv() else {
        panic!("child did not sync")
    };
    child.exit();
    Device { dir, id }
}

/// One reconnect as measured at both ends.
struct Reconnect {
    report: crate::child::SyncReport,
    init_ms: f64,
    server: Traffic,
    server_loaded: u64,
    /// Stored documents the server parsed during the reconnect.
    server_parsed: u64,
    /// Sessions the server completed a handshake for during the reconnect.
    server_sessions: u64,
    /// Dials the server started during the reconnect.
    server_dials: u64,
}

/// Restarts the device, dials the server and waits for `changed` notes changed remotely.
async fn reconnect(world: &World, device: &Device, changed: usize) -> Reconnect {
    let before = world.server.stats().await.expect("stats");
    let mut child = ChildProc::spawn(device.dir.path());
    child.send(&ToChild::Start);
    let FromChild::Ready { init_ms, .. } = child.recv() else {
        panic!("child did not start")
    };
    child.send(&ToChild::Sync {
        pairing: None,
        server: world.server.id(),
        addrs: world.server.addrs(),
        docs: world.notes.len(),
        changed,
    });
    let FromChild::Synced(report) = child.recv() else {
        panic!("child did not sync")
    };
    let after = world.server.stats().await.expect("stats");
    let server = common::session_with(&after, device.id)
        .map(Traffic::of)
        .expect("the server holds the session");
    child.exit();
    Reconnect {
        report,
        init_ms,
        server,
        server_loaded: after.docs_loaded - before.docs_loaded,
        server_parsed: after.docs_parsed - before.docs_parsed,
        server_sessions: after.totals.sessions_opened - before.totals.sessions_opened,
        server_dials: after.totals.dials_started - before.totals.dials_started,
    }
}

/// Benchmarks 2 and 7: `size.reconnects` restarts of the device, each timed from the dial
/// request to in sync; the distribution (p50, p99, max) is what issue 22 §1a asks for, since a
/// stall shows in the tail, not in a median of a few.
pub async fn no_change(world: &World, device: &Device, size: &Size, report: &mut Report) {
    let mut times = Vec::new();
    for run in 0..size.reconnects {
        let r = reconnect(world, device, 0).await;
        let t = r.report.traffic;
        let loaded = r.report.docs_loaded + r.server_loaded;
        eprintln!(
            "bench 2/7 reconnect {run}: {} round trips, {} B ({} frames, {} B udp), {:.2} ms dial to in sync, {loaded} loaded; device {} dials {} sessions, server {} dials {} sessions; cold start {:.1} ms (init {:.1} ms)",
            t.round_trips,
            t.bytes,
            t.frames,
            t.udp_bytes,
            r.report.ms,
            r.report.dials,
            r.report.sessions_opened,
            r.server_dials,
            r.server_sessions,
            r.report.since_main_ms,
            r.init_ms
        );
        times.push(r.report.ms);
        report.add(
            "2",
            "no-change reconnect: round trips",
            "",
            "≤ 2",
            t.round_trips as f64,
        );
        report.add(
            "2",
            "no-change reconnect: session bytes",
            "B",
            "≤ 1,024 B",
            t.bytes as f64,
        );
        report.add(
            "2",
            "no-change reconnect: UDP bytes (QUIC handshake included)",
            "B",
            "",
            t.udp_bytes as f64,
        );
        report.add(
            "2",
            "no-change reconnect: dial to in sync",
            "ms",
            "≤ 10 ms",
            r.report.ms,
        );
        report.add(
            "2",
            "no-change reconnect: documents loaded (both ends)",
            "docs",
            "0",
            loaded as f64,
        );
        report.add(
            "2",
            "no-change reconnect: dials by the device",
            "",
            "1",
            r.report.dials as f64,
        );
        report.add(
            "7",
            "cold start to first no-change sync",
            "ms",
            "≤ 250 ms",
            r.report.since_main_ms,
        );
        report.add("7", "of which init (open store, bind iroh)", "ms", "", r.init_ms);
        if size.quick {
            assert_eq!(t.round_trips, 1, "a no-change reconnect is one round trip");
            assert_eq!(t.frames, 2, "Hello and Welcome only");
            assert!(t.bytes <= 1024, "{} B", t.bytes);
            assert_eq!(r.server.bytes, t.bytes, "both ends count the same two frames");
            assert_eq!(loaded, 0, "no document is loaded");
            // Issue 22 §1a: one session at each end per reconnect (a duplicate session is a
            // stall's signature). Dials are printed and tabled, not asserted: the first
            // reconnect after benchmark 1 was seen to take 2 device dials (BENCHMARKS.md, left).
            assert_eq!(r.report.sessions_opened, 1, "one session at the device");
            assert_eq!(r.server_sessions, 1, "one session at the server");
        }
    }
    let p = |q: f64| crate::report::percentile(&times, q);
    let n = times.len();
    report.add("2", &format!("… over {n} reconnects: p50"), "ms", "", p(50.0));
    report.add("2", &format!("… over {n} reconnects: p99"), "ms", "", p(99.0));
    report.add(
        "2",
        &format!("… over {n} reconnects: max"),
        "ms",
        "no stall",
        p(100.0),
    );
}

/// Benchmark 3: the server changes k notes while the device is away.
pub async fn changed(world: &World, device: &Device, size: &Size, report: &mut Report) {
    for run in 0..size.runs {
        for &k in &size.changed {
            let value = (run * 1_000_000 + k) as i64;
            let change_bytes = edit(world, k, value).await;
            let r = reconnect(world, device, k).await;
            let t = r.report.traffic;
            let overhead = t.bytes as f64 - change_bytes as f64;
            let d = &r.report;
            eprintln!(
                "bench 3 run {run} k={k}: {} B for {change_bytes} B of changes ({:.0} B overhead per doc), {} round trips, {} frames, {:.1} ms; device: loaded {} parsed {} appended {} saves {} batches {}; server: loaded {} parsed {}",
                t.bytes,
                overhead / k as f64,
                t.round_trips,
                t.frames,
                d.ms,
                d.docs_loaded,
                d.docs_parsed,
                d.changes_appended,
                d.saves_done,
                d.store_batches,
                r.server_loaded,
                r.server_parsed
            );
            let metric = |m: &str| format!("k = {k}: {m}");
            let target = format!("≤ {} B", 200 * k + 1024);
            report.add("3", &metric("session bytes"), "B", "", t.bytes as f64);
            report.add("3", &metric("bytes beyond the changes"), "B", &target, overhead);
            report.add(
                "3",
                &metric("answers awaited (upper bound on round trips)"),
                "",
                "",
                t.round_trips as f64,
            );
            report.add("3", &metric("dial to in sync"), "ms", "", r.report.ms);
            report.add(
                "3",
                &metric("documents loaded (device + server)"),
                "docs",
                "0",
                (r.report.docs_loaded + r.server_loaded) as f64,
            );
            report.add(
                "3",
                &metric("changes appended unparsed at the device"),
                "docs",
                &format!("{k}"),
                r.report.changes_appended as f64,
            );
            report.add(
                "3",
                &metric("durable write batches at the device"),
                "",
                "",
                r.report.store_batches as f64,
            );
            // The content arrived (every size, every run).
            let mut child = ChildProc::spawn(device.dir.path());
            child.send(&ToChild::Start);
            let _ = child.recv();
            child.send(&ToChild::Read {
                doc: note_id(k - 1).to_string(),
                key: "edited".into(),
            });
            let FromChild::Value(got) = child.recv() else {
                panic!("no value")
            };
            child.exit();
            assert_eq!(got, Some(value), "the device holds the server's change");
            if size.quick {
                assert!(t.bytes > change_bytes, "the changes themselves crossed");
                // Issue 7's target was 200 B per note + 1 KB. A version-3 resume sends one
                // DocChanges per note — its 38-byte id and 8 bytes of framing beyond the changes —
                // and one Held for all of them (HS-SYNC-14); version 2's per-note DocSync
                // acknowledgement cost ~110 B more per note (k=1000: 161 KB beyond the changes).
                assert!(
                    overhead <= 50.0 * k as f64 + 1024.0,
                    "k={k}: {overhead} B beyond the changes ({:.0} B per note)",
                    overhead / k as f64
                );
                // The answers are pipelined: the device's answers awaited (frames that arrived
                // after it had sent something) stay a handful whatever k — Welcome, the first
                // DocChanges after its Resume, the server's Synced after its Held (version 2:
                // one per note, each acknowledgement interleaved with the DocChanges arriving).
                assert!(t.round_trips <= 6, "k={k}: {} answers awaited", t.round_trips);
                // Issue 22 §1: the server answers from the change bytes it saved, the device
                // appends them to its stored notes unparsed: no document is loaded at either end.
                assert_eq!(r.server_loaded, 0, "the server loads no document");
                assert_eq!(r.server_parsed, 0, "the server parses no document");
                assert_eq!(r.report.docs_loaded, 0, "the device loads no document");
                assert_eq!(r.report.docs_parsed, 0, "the device parses no document");
                assert_eq!(
                    r.report.changes_appended, k as u64,
                    "each changed note appended once"
                );
                assert!(r.report.saves_done >= k as u64, "each changed note made durable");
                // Hello, Welcome, one Resume and Resumed each way, k DocChanges, one Held, Synced
                // each way (and the registry's DocSync): one frame per note.
                assert!(t.frames <= k as u64 + 12, "k={k}: {} frames", t.frames);
            }
        }
    }
}

/// Sets `edited = value` in the first `k` notes on the server; returns the changes' encoded size.
async fn edit(world: &World, k: usize, value: i64) -> u64 {
    let mut tasks = JoinSet::new();
    for i in 0..k {
        let server = world.server.clone();
        tasks.spawn(async move {
            let doc = server.open_doc(note_id(i).as_str()).await.expect("doc");
            doc.put("edited", value).await.expect("put");
            doc.read(|am| am.get_last_local_change().map(|c| c.raw_bytes().len() as u64))
                .await
                .expect("read")
                .unwrap_or(0)
        });
    }
    let mut total = 0;
    while let Some(bytes) = tasks.join_next().await {
        total += bytes.expect("edit task");
    }
    total
}
