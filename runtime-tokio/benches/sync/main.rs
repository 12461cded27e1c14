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
mod fixture;
mod initial;
mod live;
mod reconnect;
mod report;
mod world;

use std::collections::BTreeSet;

/// How big a run is.
pub struct Size {
    pub quick: bool,
    pub docs: usize,
    pub runs: usize,
    pub edits: usize,
    pub blob_bytes: u64,
    pub changed: Vec<usize>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let dir = args.get(i + 1).expect("--child DIR");
        child::run(dir.into());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mut size = if quick {
        Size {
            quick,
            docs: 200,
            runs: 1,
            edits: 50,
            blob_bytes: 16 << 20,
            changed: vec![1, 10, 50],
        }
    } else {
        Size {
            quick,
            docs: 10_000,
            runs: 5,
            edits: 1_000,
            blob_bytes: 1 << 30,
            changed: vec![10, 100, 1_000],
        }
    };
    if let Some(runs) = value("--runs") {
        size.runs = runs.parse().expect("--runs N");
    }
    if let Some(docs) = value("--docs") {
        size.docs = docs.parse().expect("--docs N");
    }
    let only: BTreeSet<u32> = value("--only")
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().parse().expect("--only 1,2"))
                .collect()
        })
        .unwrap_or_else(|| (1..=8).collect());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(run(&size, &only));
    println!("{}", describe_machine());
    println!("{}", report.table());
}

async fn run(size: &Size, only: &BTreeSet<u32>) -> report::Report {
    let mut report = report::Report::default();
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
    report
}

/// CPU model, cores, memory and kernel, for the results table.
fn describe_machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kib| kib / (1 << 20))
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "machine: {cpu}, {cores} cores, {mem} GiB RAM, Linux {}",
        kernel.trim()
    )
}
