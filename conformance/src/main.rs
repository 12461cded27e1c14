//! `humansync-conformance`: runs the test vectors against this workspace's
//! implementation (`vectors`), regenerates them (`generate`), and — once the
//! runtime exists — checks a live node (`peer`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use humansync_conformance::{generate, vectors};

/// Conformance vectors and runner for the HumanSync protocol.
#[derive(Parser)]
#[command(name = "humansync-conformance", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the protocol and sansio crates against every vector; exit 1 if a MUST fails.
    Vectors {
        /// Directory of vector files.
        #[arg(long, default_value = default_dir())]
        dir: PathBuf,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// List every case, not only those that did not pass.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Regenerate the vector files (deterministic: the same files every time).
    Generate {
        /// Directory to write into.
        #[arg(long, default_value = default_dir())]
        dir: PathBuf,
    },
    /// Check a live node over iroh (needs the humansync runtime).
    Peer {
        /// Arguments for the peer check.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `conformance/vectors` of this crate when built from the workspace.
fn default_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/vectors")
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Vectors { dir, json, verbose } => match vectors::run(&dir) {
            Ok(report) => {
                if json {
                    println!("{:#}", report.to_json());
                } else {
                    print!("{}", report.table(verbose));
                }
                if report.ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("humansync-conformance: {e}");
                ExitCode::from(2)
            }
        },
        Command::Generate { dir } => match generate::write(&dir) {
            Ok(paths) => {
                for path in paths {
                    println!("wrote {}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("humansync-conformance: {e}");
                ExitCode::from(1)
            }
        },
        Command::Peer { .. } => {
            eprintln!("peer mode needs the humansync runtime (not built yet)");
            ExitCode::from(2)
        }
    }
}
