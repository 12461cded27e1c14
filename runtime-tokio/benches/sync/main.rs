//! HumanSync benchmarks over real iroh connections on loopback (relays off, presets::Minimal).
//! See BENCHMARKS.md for what each one measures, the targets and the results.
//!
//! `cargo bench -p humansync --bench sync` runs every benchmark at full size (10,000 notes,
//! 5 runs, 1 GiB blobs); `-- --quick` runs a small size and asserts counts (bytes, round trips,
//! documents loaded — never times), which CI does in the test profile:
//! `cargo test -p humansync --bench sync -- --quick`. `--only 1,4` picks benchmarks; `--runs N`
//! overrides the run count. A re-executed copy of this binary (`--child DIR`) plays the
//! receiving device, so its peak RSS is its own.

#![allow(clippy::unwrap_used, unreachable_pub)] // Benchmark code: a failed unwrap is a failed run; `pub` shares items between its modules.

mod baseline;
mod blob;
mod child;
mod common;
mod devices;
mod floor;
mod heap;
mod heavy;
mod initial;
mod live;
mod reconnect;
mod wan;
mod wan_baseline;
mod wan_blob;
mod world;

use std::collections::BTreeSet;

use humansync_benchkit::args::Args;
use humansync_benchkit::machine::describe_machine;
// Shared with the server's benchmarks (server/benches/server); `crate::fixture` and
// `crate::report` name them in this binary's modules.
use humansync_benchkit::{fixture, report};

/// How big a run is.
pub struct Size {
    pub quick: bool,
    pub docs: usize,
    pub runs: usize,
    /// No-change reconnects of benchmark 2 (a distribution: issue 22 §1a).
    pub reconnects: usize,
    pub edits: usize,
    pub blob_bytes: u64,
    pub changed: Vec<usize>,
}

fn main() {
    let args = Args::from_env();
    if let Some(dir) = args.value("--child") {
        child::run(dir.into());
        return;
    }
    let quick = args.quick();
    let mut size = if quick {
        Size {
            quick,
            docs: 200,
            runs: 1,
            reconnects: 5,
            edits: 50,
            blob_bytes: 16 << 20,
            changed: vec![1, 10, 50],
        }
    } else {
        Size {
            quick,
            docs: 10_000,
            runs: 5,
            reconnects: 60,
            edits: 1_000,
            blob_bytes: 1 << 30,
            changed: vec![10, 100, 1_000],
        }
    };
    size.runs = args.number("--runs", size.runs);
    size.docs = args.number("--docs", size.docs);
    size.reconnects = args.number("--reconnects", size.reconnects);
    // `--changed 1000` (or `10,1000`): benchmark 3's k values.
    if let Some(list) = args.value("--changed") {
        size.changed = list.split(',').filter_map(|k| k.trim().parse().ok()).collect();
    }
    // Benchmark 10 (emulated links, root) runs only when asked for: `--only 10`.
    let only = args.only(1..=9);
    let runtime = crate::common::runtime();
    let mut report = runtime.block_on(run(&size, &only));
    if args.only(1..=9).contains(&10) {
        let profiles = args
            .value("--profiles")
            .unwrap_or("broadband,lte,poor")
            .split(',')
            .map(str::to_owned)
            .collect::<Vec<_>>();
        // `--wan-blob-mb N`: the blob's size on every profile (default: `wan_blob::size_mb`).
        let blob_mb = args.value("--wan-blob-mb").map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("--wan-blob-mb takes a number of MB, not {v:?}"))
        });
        wan::run(&size, &profiles, blob_mb, &mut report);
    }
    println!("{}", describe_machine());
    println!("{}", report.table());
}

async fn run(size: &Size, only: &BTreeSet<u32>) -> report::Report {
    let mut report = report::Report::default();
    if only.iter().all(|b| *b > 9) {
        return report;
    }
    let mut world = world::World::new(size.docs).await;
    if only.contains(&1) {
        initial::run(&mut world, size, &mut report).await;
    }
    if only.contains(&2) || only.contains(&3) || only.contains(&7) {
        let device = reconnect::synced_device(&mut world).await;
        if only.contains(&2) || only.contains(&7) {
            reconnect::no_change(&world, &device, size, &mut report).await;
        }
        if only.contains(&3) {
            reconnect::changed(&world, &device, size, &mut report).await;
        }
    }
    if only.contains(&4) {
        live::run(&mut world, size, &mut report).await;
    }
    if only.contains(&5) {
        blob::run(&mut world, size, &mut report).await;
    }
    if only.contains(&9) {
        heavy::run(&mut world, size, &mut report).await;
    }
    report
}
