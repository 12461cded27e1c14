//! Benchmark 10 (issue 22 §3): sync over emulated links instead of loopback. The server peer
//! runs in one namespace of a `linkem` lab on `lan`; the device (a child process) runs in
//! another behind a profile (`broadband`, `lte`, `poor`: RTT, rate and loss of issue 22 §3);
//! both bind their namespace's address. For each profile: the initial sync of every note
//! against the link floor (the session's UDP bytes at the profile's rate plus two round trips:
//! QUIC's handshake and the first request), edit propagation, a no-change reconnect of the
//! restarted device (round trips, bytes, and its time in round trips of the path), then a blob
//! fetched by the device (goodput against the profile's rate, `wan_blob.rs`; 100 MB, 10 MB on
//! `poor`, `--wan-blob-mb N` for every profile), and the same notes by per-document Automerge
//! sync through the same link (`wan_baseline.rs`). Needs root (skips, saying so); not in the
//! default set or `--quick`: `--only 10` (`--profiles lte,poor` to pick).

use std::time::Duration;

use humansync_linkem::{Lab, LinkProfile, NodeSpec, PROFILES};

use crate::Size;
use crate::child::{ChildProc, EditsSeen, FromChild, SyncReport, ToChild};
use crate::common;
use crate::report::{Report, percentile};
use crate::wan_baseline;
use crate::wan_blob::{self, BlobReport};
use crate::world::World;

/// Edits made on the server per profile, one note each, spaced so that each arrives alone.
const EDITS: usize = 30;

/// One profile's figures.
struct Figures {
    docs: usize,
    initial: SyncReport,
    reconnect: SyncReport,
    /// From the server's `put` to the device's change event, ms, one per edit that arrived.
    edits_ms: Vec<f64>,
    /// What the device counted meanwhile (documents loaded, changes appended, bytes received).
    edits_seen: EditsSeen,
    /// The blob the device fetched.
    blob: BlobReport,
    /// The same notes by per-document Automerge sync.
    baseline: SyncReport,
}

/// Runs benchmark 10 over each of `profiles` (names from [`PROFILES`]), with a blob of `blob_mb`
/// MB (else [`wan_blob::size_mb`]'s default).
pub fn run(size: &Size, profiles: &[String], blob_mb: Option<u64>, report: &mut Report) {
    if !rustix::process::geteuid().is_root() {
        eprintln!("bench 10 SKIPPED: emulated links need root (network namespaces, TUN, tc)");
        return;
    }
    for name in profiles {
        let Some((_, profile)) = PROFILES.iter().find(|(n, _)| n == name) else {
            panic!("no link profile {name:?}; known: broadband, lte, poor, lan")
        };
        let blob_size = wan_blob::size_mb(blob_mb, profile);
        let f = over(size.docs, *profile, blob_size.0);
        let rtt = f64::from(profile.rtt_ms);
        let floor_ms = match profile.rate_kbit {
            Some(kbit) => f.initial.traffic.udp_bytes as f64 * 8.0 / kbit as f64 + 2.0 * rtt,
            None => 2.0 * rtt,
        };
        eprintln!(
            "bench 10 {name}: {} notes in {:.0} ms ({} B udp; floor {:.0} ms, {:.2}×) | no-change reconnect {:.1} ms, {} round trips, {} B",
            f.docs,
            f.initial.ms,
            f.initial.traffic.udp_bytes,
            floor_ms,
            f.initial.ms / floor_ms,
            f.reconnect.ms,
            f.reconnect.traffic.round_trips,
            f.reconnect.traffic.bytes
        );
        let b = "10";
        let row = |what: &str| format!("{name}: {what}");
        report.add(b, &row("initial sync: wall time"), "ms", "", f.initial.ms);
        report.add(
            b,
            &row("initial sync: link floor (UDP bytes ÷ rate + 2 RTT)"),
            "ms",
            "",
            floor_ms,
        );
        report.add(
            b,
            &row("initial sync / link floor"),
            "×",
            "≤ 1.3×",
            f.initial.ms / floor_ms,
        );
        wan_baseline::report(name, &f.initial, &f.baseline, floor_ms, report);
        let one_way = rtt / 2.0;
        let seen = &f.edits_seen;
        eprintln!(
            "bench 10 {name}: edits {} of {EDITS} arrived, p50 {:.1} ms p99 {:.1} ms (one-way delay {one_way:.0} ms); the device appended {} unparsed, loaded {} documents, received {} B",
            f.edits_ms.len(),
            percentile(&f.edits_ms, 50.0),
            percentile(&f.edits_ms, 99.0),
            seen.changes_appended,
            seen.docs_loaded,
            seen.bytes_in
        );
        let goal = format!("≤ {:.0} ms", one_way + 5.0);
        report.add(
            b,
            &row("edit propagation: p50"),
            "ms",
            &goal,
            percentile(&f.edits_ms, 50.0),
        );
        report.add(
            b,
            &row("edit propagation: p99"),
            "ms",
            "",
            percentile(&f.edits_ms, 99.0),
        );
        report.add(
            b,
            &row("edit propagation: documents the device loaded"),
            "docs",
            "0",
            seen.docs_loaded as f64,
        );
        let per_edit = seen.bytes_in as f64 / f.edits_ms.len().max(1) as f64;
        report.add(
            b,
            &row("edit propagation: bytes received per edit"),
            "B",
            "",
            per_edit,
        );
        report.add(
            b,
            &row("no-change reconnect: wall time"),
            "ms",
            "",
            f.reconnect.ms,
        );
        if rtt > 0.0 {
            report.add(
                b,
                &row("no-change reconnect: wall time in RTTs"),
                "RTT",
                "1",
                f.reconnect.ms / rtt,
            );
        }
        report.add(
            b,
            &row("no-change reconnect: round trips"),
            "round trips",
            "1",
            f.reconnect.traffic.round_trips as f64,
        );
        report.add(
            b,
            &row("no-change reconnect: session bytes"),
            "B",
            "≤ 1 KB",
            f.reconnect.traffic.bytes as f64,
        );
        wan_blob::report(name, profile, blob_size, &f.blob, report);
    }
}

/// A lab with the server on `lan` and the device behind `profile`; the initial sync of `docs`
/// notes, the edits, one no-change reconnect, a blob of `blob_mb` MB, then the baseline.
fn over(docs: usize, profile: LinkProfile, blob_mb: u64) -> Figures {
    let lab_name = format!("hsw{}", std::process::id() % 100_000);
    let lab = Lab::start(
        &lab_name,
        10,
        &[
            NodeSpec {
                name: "server".into(),
                profile: LinkProfile::LAN,
            },
            NodeSpec {
                name: "device".into(),
                profile,
            },
        ],
    )
    .expect("the lab starts (root, ip, tc, TUN)");
    let server_ip = lab.addr("server").expect("server address");
    let device_ip = lab.addr("device").expect("device address");
    let exe = std::env::current_exe().expect("current exe");
    let device = move || {
        let mut cmd = lab_command(&lab_name, &exe);
        cmd.env("HUMANSYNC_BENCH_BIND", device_ip.to_string());
        cmd
    };
    let server_ns = lab.namespace("server").expect("namespace").to_owned();
    let spacing = Duration::from_millis(100 + 3 * u64::from(profile.rtt_ms));
    let figures = humansync_linkem::spawn_in_namespace(&server_ns, move || {
        let runtime = common::runtime();
        runtime.block_on(async move {
            let mut world = World::new_at(docs, server_ip.into()).await;
            let dir = common::tempdir();
            let mut child = ChildProc::spawn_with(device(), dir.path());
            child.send(&ToChild::Start);
            let FromChild::Ready { id: Some(id), .. } = child.recv() else {
                panic!("device did not start")
            };
            world.register(id).await;
            child.send(&ToChild::Sync {
                pairing: Some(world.pairing()),
                server: world.server.id(),
                addrs: world.server.addrs(),
                docs,
                changed: 0,
            });
            let FromChild::Synced(initial) = child.recv() else {
                panic!("device did not sync")
            };
            let (edits_ms, edits_seen) = edits(&world, &mut child, spacing).await;
            child.exit();
            // Let the server notice the device left before it comes back.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut child = ChildProc::spawn_with(device(), dir.path());
            child.send(&ToChild::Start);
            let FromChild::Ready { .. } = child.recv() else {
                panic!("device did not restart")
            };
            child.send(&ToChild::Sync {
                pairing: None,
                server: world.server.id(),
                addrs: world.server.addrs(),
                docs,
                changed: 0,
            });
            let FromChild::Synced(reconnect) = child.recv() else {
                panic!("device did not reconnect")
            };
            let blob = wan_blob::fetch(&world, &mut child, blob_mb).await;
            child.exit();
            let baseline = wan_baseline::initial(&world, server_ip.into(), device()).await;
            Figures {
                docs,
                initial,
                reconnect,
                edits_ms,
                edits_seen,
                blob,
                baseline,
            }
        })
    })
    .join()
    .expect("the server thread")
    .expect("entered the server's namespace");
    drop(lab);
    figures
}

/// [`EDITS`] edits of distinct notes on the server, `spacing` apart, each timed from `put` to
/// the device's change event (both on this machine's wall clock).
async fn edits(world: &World, child: &mut ChildProc, spacing: Duration) -> (Vec<f64>, EditsSeen) {
    let n = EDITS.min(world.notes.len());
    child.send(&ToChild::Watch {
        from: world.server.id(),
    });
    let FromChild::Watching = child.recv() else {
        panic!("device does not watch")
    };
    let mut made = Vec::with_capacity(n);
    for i in 0..n {
        let id = crate::fixture::note_id(i).as_str().to_owned();
        let doc = world.server.open_doc(&id).await.expect("note");
        // The note is open where it is edited, as in an app (and in benchmark 4): its load is
        // not part of the propagation.
        doc.read(|_| ()).await.expect("read");
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos();
        doc.put("wan_edit", i as i64).await.expect("put");
        made.push((id, at));
        tokio::time::sleep(spacing).await;
    }
    child.send(&ToChild::Collect {
        docs: made.iter().map(|(id, _)| id.clone()).collect(),
        timeout_ms: 30_000,
    });
    let FromChild::Seen(seen) = child.recv() else {
        panic!("device did not answer")
    };
    let ms = made
        .iter()
        .filter_map(|(id, at)| seen.at.get(id).map(|s| s.saturating_sub(*at) as f64 / 1e6))
        .collect();
    (ms, seen)
}

/// `ip netns exec {lab}-device {exe}` (what [`Lab::command`] builds; rebuilt here because the
/// lab stays on this thread).
fn lab_command(lab: &str, exe: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", &format!("{lab}-device")]).arg(exe);
    cmd
}
