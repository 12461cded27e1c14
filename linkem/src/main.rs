//! `linkem`: the link emulator from the shell. See the crate docs and `linkem --help`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{Parser, Subcommand};
use humansync_linkem::control::{self, Request};
use humansync_linkem::{Lab, LinkProfile, NodeSpec, PROFILES};

/// Emulated links between network namespaces (no netem needed). Needs root.
#[derive(Parser)]
#[command(name = "linkem", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates lab LAB (namespaces `LAB-hub` and `LAB-NODE`) and runs its links in the
    /// foreground until SIGINT/SIGTERM or `linkem stop LAB`, then removes everything. Prints one
    /// JSON line with each node's namespace and address once ready.
    Up {
        /// Lab name (≤ 8 letters, digits, `-`).
        lab: String,
        /// NODE=PROFILE, repeatable (profiles: lan, broadband, lte, poor).
        #[arg(long = "node", required = true)]
        nodes: Vec<String>,
        /// Seed of the links' loss and jitter.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Changes a node's link at run time: a profile, then any overrides.
    Set {
        /// The lab.
        lab: String,
        /// The node.
        node: String,
        /// Profile name.
        #[arg(long)]
        profile: Option<String>,
        /// Round-trip time the link adds, ms.
        #[arg(long)]
        rtt_ms: Option<u32>,
        /// Jitter each way, ms.
        #[arg(long)]
        jitter_ms: Option<u32>,
        /// Rate, kbit/s (0: unshaped).
        #[arg(long)]
        rate_kbit: Option<u64>,
        /// Loss each way, percent.
        #[arg(long)]
        loss_pct: Option<f64>,
    },
    /// Takes a node's link down: every packet either way is silently dropped.
    Down {
        /// The lab.
        lab: String,
        /// The node.
        node: String,
    },
    /// Brings a node's link back up.
    Restore {
        /// The lab.
        lab: String,
        /// The node.
        node: String,
    },
    /// Prints every link's settings and packet counters (JSON).
    Stats {
        /// The lab.
        lab: String,
    },
    /// Stops `linkem up LAB` (which removes the lab).
    Stop {
        /// The lab.
        lab: String,
    },
    /// Removes what a crashed run of lab LAB left: kills processes in its namespaces, deletes them.
    Cleanup {
        /// The lab.
        lab: String,
    },
    /// Measures profiles in a throw-away two-node lab and prints measured vs profile.
    Measure {
        /// Profiles to measure (default: broadband, lte, poor).
        profiles: Vec<String>,
        /// Lab name to use.
        #[arg(long, default_value = "lkmeas")]
        lab: String,
        /// Seed of the links.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON lines instead of the table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linkem: {e}");
            ExitCode::FAILURE
        }
    }
}

fn client(lab: &str, request: Request) -> Result<(), String> {
    let answer = control::request(lab, &request).map_err(|e| e.to_string())?;
    if let Some(result) = answer.result {
        // A closed stdout (`| head`) is not an error of the request.
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
    }
    if answer.ok {
        Ok(())
    } else {
        Err(answer.error.unwrap_or_default())
    }
}

fn run(cmd: Cmd) -> Result<(), String> {
    match cmd {
        Cmd::Up { lab, nodes, seed } => up(&lab, &nodes, seed),
        Cmd::Set {
            lab,
            node,
            profile,
            rtt_ms,
            jitter_ms,
            rate_kbit,
            loss_pct,
        } => client(
            &lab,
            Request::Set {
                node,
                profile,
                rtt_ms,
                jitter_ms,
                rate_kbit,
                loss: loss_pct.map(|p| p / 100.0),
            },
        ),
        Cmd::Down { lab, node } => client(&lab, Request::Link { node, up: false }),
        Cmd::Restore { lab, node } => client(&lab, Request::Link { node, up: true }),
        Cmd::Stats { lab } => client(&lab, Request::Stats),
        Cmd::Stop { lab } => client(&lab, Request::Stop),
        Cmd::Cleanup { lab } => {
            let n = humansync_linkem::cleanup(&lab);
            let _ = std::fs::remove_file(control::socket_path(&lab));
            println!("removed {n} namespaces of lab {lab}");
            Ok(())
        }
        Cmd::Measure {
            profiles,
            lab,
            seed,
            json,
        } => measure(&lab, &profiles, seed, json),
    }
}

fn up(name: &str, nodes: &[String], seed: u64) -> Result<(), String> {
    let specs = nodes
        .iter()
        .map(|n| {
            let (node, profile) = n
                .split_once('=')
                .ok_or(format!("--node {n}: expected NODE=PROFILE"))?;
            let profile = LinkProfile::named(profile).ok_or(format!("unknown profile {profile:?}"))?;
            Ok(NodeSpec {
                name: node.to_owned(),
                profile,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let lab = Lab::start(name, seed, &specs).map_err(|e| e.to_string())?;
    let info: Vec<serde_json::Value> = lab
        .nodes()
        .iter()
        .map(|n| {
            serde_json::json!({
                "node": n,
                "namespace": lab.namespace(n).unwrap_or_default(),
                "addr": lab.addr(n).map(|a| a.to_string()).unwrap_or_default(),
            })
        })
        .collect();
    let lab = Arc::new(Mutex::new(lab));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime.block_on(async {
        let stop = async {
            use tokio::signal::unix::{SignalKind, signal};
            match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                }
                _ => std::future::pending().await,
            }
        };
        let serving = control::serve(lab.clone(), name, stop);
        println!("{}", serde_json::json!({ "lab": name, "nodes": info }));
        serving.await
    });
    // Dropping the lab removes its namespaces.
    drop(lab);
    result.map_err(|e| e.to_string())
}

fn measure(lab: &str, profiles: &[String], seed: u64, json: bool) -> Result<(), String> {
    let names: Vec<String> = if profiles.is_empty() {
        PROFILES
            .iter()
            .filter(|(n, _)| *n != "lan")
            .map(|(n, _)| (*n).to_owned())
            .collect()
    } else {
        profiles.to_vec()
    };
    if !json {
        println!(
            "{:<10} {:>22} {:>26} {:>22} {:>22} {:>26}",
            "profile",
            "rtt ms (profile)",
            "rtt ms min/p50/p99/max",
            "loss b→a (profile)",
            "loss a→b",
            "tcp goodput up/down kbit/s (rate)"
        );
    }
    for name in names {
        let profile = LinkProfile::named(&name).ok_or(format!("unknown profile {name:?}"))?;
        let m = humansync_linkem::measure::measure(lab, &name, profile, seed).map_err(|e| e.to_string())?;
        if json {
            println!("{}", serde_json::to_string(&m).map_err(|e| e.to_string())?);
            continue;
        }
        let (min, p50, p99, max) = m.rtt_ms;
        println!(
            "{:<10} {:>22} {:>26} {:>22} {:>22} {:>26}",
            name,
            format!("{:.1} ({} +≤{})", p50, profile.rtt_ms, 2 * profile.jitter_ms),
            format!("{min:.1}/{p50:.1}/{p99:.1}/{max:.1}"),
            format!("{:.2} % ({:.2} %)", m.loss_up.2 * 100.0, profile.loss * 100.0),
            format!("{:.2} %", m.loss_down.2 * 100.0),
            format!(
                "{:.0}/{:.0} ({})",
                m.goodput_up_kbit,
                m.goodput_down_kbit,
                profile.rate_kbit.map_or("-".into(), |k| k.to_string())
            ),
        );
    }
    Ok(())
}
