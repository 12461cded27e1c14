//! Benchmark 10's blob: the server peer stores (and pins) an incompressible blob, and the device,
//! connected to it through the emulated link, fetches it by hash (`Node::get_blob`, as an app
//! opening an attachment). The device times the fetch from the request until every byte is
//! verified (`Node::blob_progress` reports it complete, polled every [`POLL`]; the export
//! `get_blob` makes afterwards is not timed) and counts the IP bytes its namespace received
//! meanwhile (what the link's `tbf` shapes). Reported: goodput (blob bytes ÷ time) in MB/s and
//! as a share of the profile's rate (goal ≥ 80 %), and the link's use (those IP bytes ÷ time ÷
//! rate).

use std::time::{Duration, Instant};

use humansync::{BlobHash, Node};
use humansync_linkem::LinkProfile;
use serde::{Deserialize, Serialize};

use crate::child::{ChildProc, FromChild, ToChild};
use crate::common;
use crate::devices;
use crate::report::Report;
use crate::world::World;

/// The blob's size unless `--wan-blob-mb` says otherwise, in MB (10⁶ bytes).
pub const DEFAULT_MB: u64 = 100;

/// The default on links slower than [`SLOW_KBIT`] (`poor`, 1 Mbit/s: 100 MB would take ~14 min).
pub const SLOW_LINK_MB: u64 = 10;

/// Below this rate a link gets [`SLOW_LINK_MB`] by default.
const SLOW_KBIT: u64 = 5_000;

/// How often the device asks how much of the blob it holds.
const POLL: Duration = Duration::from_millis(10);

/// A fetch taking longer than this fails the run.
const TIMEOUT: Duration = Duration::from_secs(3_600);

/// The blob's size in MB for `profile` and why: `asked` (`--wan-blob-mb`) if given, else the
/// default for the profile's rate.
pub fn size_mb(asked: Option<u64>, profile: &LinkProfile) -> (u64, &'static str) {
    match (asked, profile.rate_kbit) {
        (Some(mb), _) => (mb, "--wan-blob-mb"),
        (None, Some(kbit)) if kbit < SLOW_KBIT => (SLOW_LINK_MB, "the default under 5 Mbit/s"),
        (None, _) => (DEFAULT_MB, "the default"),
    }
}

/// One fetch, measured in the device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobReport {
    /// From the request to every byte verified, ms.
    pub ms: f64,
    /// The blob's size.
    pub bytes: u64,
    /// IP bytes the device's namespace received meanwhile (every interface but `lo`).
    pub link_rx_bytes: u64,
}

/// The server side: stores `mb` MB of pseudo-random bytes on the server peer, pins it, and has
/// the device behind `child` fetch it.
pub async fn fetch(world: &World, child: &mut ChildProc, mb: u64) -> BlobReport {
    let dir = common::tempdir();
    let source = dir.path().join("wan-blob.bin");
    devices::write_blob(&source, 0x3A_3B10B, mb * 1_000_000);
    let hash = world.server.store_blob(&source).await.expect("store blob");
    world.server.pin_blob(hash).await.expect("pin blob");
    std::fs::remove_file(&source).expect("remove source");
    child.send(&ToChild::FetchBlob { hash });
    let FromChild::Fetched(report) = child.recv() else {
        panic!("device did not fetch the blob")
    };
    assert_eq!(report.bytes, mb * 1_000_000, "the device holds the whole blob");
    report
}

/// The device side (in the child): fetches `hash` from a connected peer and reports.
pub async fn fetch_in_child(node: &Node, hash: BlobHash) -> BlobReport {
    let rx_before = link_rx_bytes();
    let t = Instant::now();
    let get = tokio::spawn({
        let node = node.clone();
        async move { node.get_blob(hash).await }
    });
    let bytes = loop {
        let progress = node.blob_progress(hash).await.expect("blob progress");
        if progress.complete {
            break progress.size.expect("a complete blob has a size");
        }
        // A fetch that failed ends `get` before the blob is complete: its error fails the run.
        if get.is_finished() {
            let result = get.await.expect("join");
            panic!("the fetch ended before the blob was complete: {result:?}");
        }
        assert!(t.elapsed() < TIMEOUT, "no blob after {TIMEOUT:?}");
        tokio::time::sleep(POLL).await;
    };
    let ms = common::ms_since(t);
    let link_rx_bytes = link_rx_bytes() - rx_before;
    let path = get.await.expect("join").expect("get_blob");
    let exported = std::fs::metadata(&path).expect("the exported blob").len();
    assert_eq!(exported, bytes, "the export holds every byte");
    BlobReport {
        ms,
        bytes,
        link_rx_bytes,
    }
}

/// Bytes received by every interface of this process's network namespace but `lo`
/// (`/proc/net/dev`: the receive bytes are the first figure after the interface's name).
fn link_rx_bytes() -> u64 {
    let table = std::fs::read_to_string("/proc/net/dev").expect("/proc/net/dev");
    table
        .lines()
        .skip(2)
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .map(|(name, figures)| {
            let rx = figures.split_whitespace().next().unwrap_or_default();
            rx.parse::<u64>()
                .unwrap_or_else(|_| panic!("/proc/net/dev: {name}: {rx:?}"))
        })
        .sum()
}

/// Adds the blob's rows for profile `name`: a blob of `mb` MB (its size chosen by `why`, see
/// [`size_mb`]) fetched through `profile`.
pub fn report(
    name: &str,
    profile: &LinkProfile,
    (mb, why): (u64, &str),
    f: &BlobReport,
    report: &mut Report,
) {
    let secs = f.ms / 1e3;
    let mbs = f.bytes as f64 / secs / 1e6;
    let Some(kbit) = profile.rate_kbit else {
        eprintln!("bench 10 {name}: {mb} MB blob ({why}) in {secs:.1} s, {mbs:.1} MB/s (unshaped)");
        report.add("10", &format!("{name}: {mb} MB blob: goodput"), "MB/s", "", mbs);
        return;
    };
    let rate_bps = kbit as f64 * 1e3;
    let goodput = 100.0 * f.bytes as f64 * 8.0 / secs / rate_bps;
    let link = 100.0 * f.link_rx_bytes as f64 * 8.0 / secs / rate_bps;
    eprintln!(
        "bench 10 {name}: {mb} MB blob ({why}) in {secs:.1} s: {mbs:.2} MB/s, goodput {goodput:.1} % of {:.1} Mbit/s; the device's link received {} B ({link:.1} % of the rate)",
        kbit as f64 / 1e3,
        f.link_rx_bytes
    );
    let row = |what: &str| format!("{name}: {mb} MB blob: {what}");
    report.add("10", &row("goodput"), "MB/s", "", mbs);
    report.add("10", &row("goodput / shaped rate"), "%", "≥ 80 %", goodput);
    report.add("10", &row("IP bytes received / shaped rate"), "%", "", link);
}
