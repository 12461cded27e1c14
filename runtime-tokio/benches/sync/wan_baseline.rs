//! Benchmark 10's baseline: the same notes by plain per-document Automerge sync (`baseline.rs`)
//! through the same emulated link, its server bound to the server namespace's address and its
//! receiver a child process in the device's namespace. Reported next to HumanSync's initial sync,
//! as a ratio to the same link floor (HumanSync's UDP bytes at the profile's rate plus two round
//! trips), so that the two ratios divide into HumanSync's speed-up.

use std::net::IpAddr;
use std::process::Command;

use automerge::Automerge;

use crate::baseline;
use crate::child::{ChildProc, SyncReport};
use crate::common;
use crate::report::Report;
use crate::world::World;

/// The baseline's initial sync of every note of `world` to a fresh child started by `device`,
/// served from `ip` (the server's namespace address).
pub async fn initial(world: &World, ip: IpAddr, device: Command) -> SyncReport {
    // As in benchmark 1, the baseline's server holds every document parsed before its clock starts.
    let mut docs: Vec<Automerge> = world
        .notes
        .iter()
        .map(|note| Automerge::load(&note.saved).expect("fixture loads"))
        .collect();
    let n = docs.len();
    let ep = baseline::bind_at(vec![baseline::ALPN.to_vec()], ip).await;
    let serve = tokio::spawn({
        let ep = ep.clone();
        async move { baseline::serve(&ep, &mut docs).await }
    });
    let dir = common::tempdir();
    let child = ChildProc::spawn_with(device, dir.path());
    let report = baseline::child_sync(child, &ep, n);
    serve.await.expect("baseline server");
    ep.close().await;
    report
}

/// Adds the baseline's rows for profile `name` next to HumanSync's `hs`; `floor_ms` is the
/// link floor of HumanSync's initial sync.
pub fn report(name: &str, hs: &SyncReport, am: &SyncReport, floor_ms: f64, report: &mut Report) {
    eprintln!(
        "bench 10 {name}: baseline (per-doc Automerge sync) {:.0} ms ({} B udp; {:.2}× the floor) | humansync {:.0} ms ({} B udp): {:.2}× faster",
        am.ms,
        am.traffic.udp_bytes,
        am.ms / floor_ms,
        hs.ms,
        hs.traffic.udp_bytes,
        am.ms / hs.ms
    );
    let b = "10";
    let row = |what: &str| format!("{name}: {what}");
    report.add(
        b,
        &row("initial sync: UDP bytes"),
        "B",
        "",
        hs.traffic.udp_bytes as f64,
    );
    report.add(
        b,
        &row("baseline (per-doc Automerge sync): wall time"),
        "ms",
        "",
        am.ms,
    );
    report.add(
        b,
        &row("baseline: UDP bytes"),
        "B",
        "",
        am.traffic.udp_bytes as f64,
    );
    report.add(b, &row("baseline / link floor"), "×", "", am.ms / floor_ms);
    report.add(b, &row("speed-up over baseline"), "×", "", am.ms / hs.ms);
}
