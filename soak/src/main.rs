//! `humansync-soak`: see the crate docs and `--help`; normally run through `scripts/soak.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use humansync_soak::run::{self, RunOutcome};
use humansync_soak::schedule::{CHAOS_MS, Schedule};
use humansync_soak::world::SoakConfig;

/// The chaos soak of the real stack. Needs root (namespaces, TUN devices, tmpfs).
#[derive(Parser)]
#[command(name = "humansync-soak", version)]
struct Cli {
    /// Seed of the schedule, the workload and the links (default: from the clock, printed).
    #[arg(long, env = "SOAK_SEED")]
    seed: Option<u64>,
    /// Length of the run in minutes (chaos plus heals; one cycle per ~80 s, at least 2).
    #[arg(long, env = "SOAK_MINUTES", default_value_t = 3.0)]
    minutes: f64,
    /// Work directory (data, logs, journal); a fresh temporary one when absent.
    #[arg(long)]
    work: Option<PathBuf>,
    /// Directory holding the `humandocs` and `humansync-server` binaries.
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// Largest attachment in MiB (default: 50 for runs of 20 minutes or more, else 8).
    #[arg(long)]
    max_attachment_mib: Option<u64>,
    /// Memory bound per process, MiB.
    #[arg(long, default_value_t = 768)]
    memory_mib: u64,
    /// Convergence bound after a heal, seconds.
    #[arg(long, default_value_t = 90)]
    converge_secs: u64,
    /// Fault kinds to leave out, comma-separated (e.g. `disk_full`; kinds as in the summary).
    #[arg(long, env = "SOAK_SKIP", value_delimiter = ',')]
    skip: Vec<String>,
    /// Keep the work directory even when the run passes.
    #[arg(long)]
    keep: bool,
    /// Print the schedule for the seed and exit.
    #[arg(long)]
    print_schedule: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let seed = cli.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let cycles = ((cli.minutes * 60_000.0) / (CHAOS_MS as f64 + 25_000.0))
        .round()
        .max(2.0) as u32;
    if cli.print_schedule {
        let schedule = Schedule::generate(seed, cycles).without(&cli.skip);
        println!("{}", serde_json::to_string_pretty(&schedule).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    if !rustix::process::geteuid().is_root() {
        eprintln!("humansync-soak: needs root (network namespaces, TUN devices, tmpfs)");
        return ExitCode::from(2);
    }
    let work = match cli.work.clone() {
        Some(w) => w,
        None => std::env::temp_dir().join(format!("humansync-soak-{seed}-{}", std::process::id())),
    };
    let max_attachment = cli
        .max_attachment_mib
        .unwrap_or(if cli.minutes >= 20.0 { 50 } else { 8 })
        << 20;
    let config = SoakConfig {
        seed,
        cycles,
        work: work.clone(),
        humandocs: cli.bin_dir.join("humandocs"),
        server_bin: cli.bin_dir.join("humansync-server"),
        max_attachment,
        attachment_budget: (max_attachment * 4).max(u64::from(cycles) * (12 << 20)),
        memory_limit: cli.memory_mib << 20,
        converge_bound: Duration::from_secs(cli.converge_secs),
        disk_mib: 768,
        lab: format!("sk{}", std::process::id() % 100_000),
        skip: cli.skip.clone(),
    };
    println!(
        "soak: seed {seed}, {cycles} cycles (~{:.1} min), work {}; replay with SOAK_SEED={seed} SOAK_MINUTES={}",
        cli.minutes,
        work.display(),
        cli.minutes
    );
    let outcome = run::run(config);
    let keep = cli.keep || !matches!(outcome, RunOutcome::Passed);
    if keep {
        println!("soak: work directory kept: {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    match outcome {
        RunOutcome::Passed => ExitCode::SUCCESS,
        RunOutcome::Failed => {
            eprintln!(
                "soak: FAILED — seed {seed}; replay: SOAK_SEED={seed} SOAK_MINUTES={} ./scripts/soak.sh; schedule: {}/schedule.json, journal: {}/soak.jsonl",
                cli.minutes,
                work.display(),
                work.display()
            );
            ExitCode::FAILURE
        }
        RunOutcome::Error(e) => {
            eprintln!("soak: could not run (seed {seed}): {e}");
            ExitCode::from(2)
        }
    }
}
