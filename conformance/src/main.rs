//! `humansync-conformance`: runs the test vectors against this workspace's
//! implementation (`vectors`), regenerates them (`generate`), and checks a
//! live node black-box over iroh (`peer`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use humansync_conformance::peer::{self, AnchorPush, Enrollment, ServerApi, TargetSpec};
use humansync_conformance::report::Report;
use humansync_conformance::{generate, vectors};
use humansync_protocol::DeviceId;

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
        /// Also write the JSON report to this file (the table still goes to stdout).
        #[arg(long)]
        json_out: Option<PathBuf>,
    },
    /// Regenerate the vector files (deterministic: the same files every time).
    Generate {
        /// Directory to write into.
        #[arg(long, default_value = default_dir())]
        dir: PathBuf,
    },
    /// Check a live node black-box over iroh; exit 1 if a MUST fails, 2 if it cannot run.
    Peer(PeerArgs),
}

/// Arguments of `peer`.
#[derive(clap::Args)]
struct PeerArgs {
    /// The node's id (64 hex). Against a server it defaults to the pairing answer's.
    #[arg(long)]
    node_id: Option<String>,
    /// A direct UDP address of the node (ip:port; repeatable). Against a server it defaults
    /// to the pairing answer's server_addrs.
    #[arg(long = "addr")]
    addrs: Vec<SocketAddr>,
    /// A bare library node: a file holding the deployment's anchor secret key (64 hex
    /// characters, the Ed25519 seed); the runner signs and pushes its own registry records.
    #[arg(long, conflicts_with = "server_url")]
    anchor_key_file: Option<PathBuf>,
    /// A server: its HTTP base URL (pairing and revocation with the password).
    #[arg(long, requires = "password_file")]
    server_url: Option<String>,
    /// A file holding the server password (first line).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Seconds to wait for each expected reaction.
    #[arg(long, default_value_t = 5)]
    timeout_secs: u64,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// List every case, not only those that did not pass.
    #[arg(long, short)]
    verbose: bool,
    /// Also write the JSON report to this file (the table still goes to stdout).
    #[arg(long)]
    json_out: Option<PathBuf>,
}

impl PeerArgs {
    fn spec(&self) -> Result<TargetSpec, String> {
        let node = match &self.node_id {
            Some(text) => Some(text.parse::<DeviceId>().map_err(|e| format!("--node-id: {e}"))?),
            None => None,
        };
        Ok(TargetSpec {
            node,
            addrs: self.addrs.clone(),
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
        })
    }

    fn enrollment(&self) -> Result<Option<Enrollment>, String> {
        if let Some(path) = &self.anchor_key_file {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let bytes = hex::decode(text.trim()).map_err(|e| format!("{}: not hex: {e}", path.display()))?;
            let seed: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("{}: expected 32 bytes (64 hex characters)", path.display()))?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            return Ok(Some(Enrollment::Anchor(Box::new(AnchorPush::new(key)))));
        }
        if let (Some(url), Some(path)) = (&self.server_url, &self.password_file) {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let password = text.lines().next().unwrap_or("").to_owned();
            let api = ServerApi::new(url, password).map_err(|e| e.to_string())?;
            return Ok(Some(Enrollment::Server(Box::new(api))));
        }
        Ok(None)
    }
}

fn peer(args: &PeerArgs) -> ExitCode {
    let setup = args.spec().and_then(|spec| Ok((spec, args.enrollment()?)));
    let (spec, enrollment) = match setup {
        Ok(both) => both,
        Err(e) => {
            eprintln!("humansync-conformance peer: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("humansync-conformance peer: tokio: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(peer::run(spec, enrollment)) {
        Ok(report) => emit(&report, args.json, args.verbose, args.json_out.as_deref()),
        Err(e) => {
            eprintln!("humansync-conformance peer: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints the report (table or JSON), writes the JSON to `json_out` if given, and turns the
/// verdicts into the exit code: 0 no MUST failed, 1 a MUST failed, 2 the report could not be
/// written.
fn emit(report: &Report, json: bool, verbose: bool, json_out: Option<&Path>) -> ExitCode {
    if json {
        println!("{:#}", report.to_json());
    } else {
        print!("{}", report.table(verbose));
    }
    if let Some(path) = json_out
        && let Err(e) = std::fs::write(path, format!("{:#}\n", report.to_json()))
    {
        eprintln!("humansync-conformance: {}: {e}", path.display());
        return ExitCode::from(2);
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `conformance/vectors` of this crate when built from the workspace.
fn default_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/vectors")
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Vectors {
            dir,
            json,
            verbose,
            json_out,
        } => match vectors::run(&dir) {
            Ok(report) => emit(&report, json, verbose, json_out.as_deref()),
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
        Command::Peer(args) => peer(&args),
    }
}
