//! Command-line arguments.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use humansync::RelayConfig;

use crate::ipc::Request;

/// Humandocs: documents on all your devices, synced by HumanSync, no cloud.
///
/// Without a command it starts the app with its browser UI on http://127.0.0.1:PORT (printed,
/// and opened in the browser); `shell` is the line-oriented terminal app. `run` starts the app without a UI
/// (for scripts and services); every other command talks to the running app over
/// `<data>/humandocs.sock` and prints one JSON object (exit status 0), or an error object
/// `{"error":{"code":…,"message":…}}` (exit status 1). When no app is running, document commands
/// open the data directory directly.
#[derive(Debug, Parser)]
#[command(name = "humandocs", version)]
pub struct Cli {
    /// Data directory (identity, documents, attachments, socket). Default: $HUMANDOCS_DATA, else
    /// $XDG_DATA_HOME/humandocs, else ~/.local/share/humandocs.
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// What to do (default: the interactive app).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How the node runs: server, network and discovery settings.
#[derive(Debug, Clone, Default, Args)]
pub struct NodeArgs {
    /// Server URL to pair with (remembered).
    #[arg(long)]
    pub server: Option<String>,
    /// PEM root certificates to trust for an https:// server with a self-signed or private-CA
    /// certificate (remembered).
    #[arg(long)]
    pub server_ca_cert: Option<PathBuf>,
    /// Server password: pair at start if not paired yet (retried in the background until it works).
    #[arg(long)]
    pub password: Option<String>,
    /// UDP port for sync (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to bind sync to (default: all interfaces).
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Do not discover peers on the local network with mDNS.
    #[arg(long)]
    pub no_mdns: bool,
    /// Relay: `default` (iroh's public relays and the server's), `server` (only the relay the
    /// server announces), `disabled`, or a relay URL.
    #[arg(long, default_value = "default")]
    pub relay: RelayConfig,
    /// Seconds between re-dial attempts to unreachable peers.
    #[arg(long, default_value_t = 30)]
    pub interval: u64,
}

/// The browser UI's settings, and the node's.
#[derive(Debug, Clone, Default, Args)]
pub struct UiArgs {
    /// The node's settings.
    #[command(flatten)]
    pub node: NodeArgs,
    /// TCP port of the UI on 127.0.0.1 [default: 4580, or any free port when taken].
    #[arg(long)]
    pub ui_port: Option<u16>,
    /// Do not open the page in a browser (just print its address).
    #[arg(long)]
    pub no_browser: bool,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the app in the foreground without a UI: syncs, logs to stderr, serves the socket.
    Run(NodeArgs),
    /// The app with its browser UI (also what runs without a command): serves the page on
    /// http://127.0.0.1:PORT and opens it in the browser.
    Ui(UiArgs),
    /// The interactive line-oriented terminal app; the first run asks for a server and password.
    Shell(NodeArgs),
    /// A document, attachment, status or pairing command, sent to the running app as is.
    #[command(flatten)]
    App(Request),
    /// Where this device keeps its identity key and data key (the OS keychain or 0600 files in
    /// the data directory); with `--to` move them there first. The keys do not change, so the
    /// documents need no re-encryption; the file copy is removed only once the keychain copy
    /// reads back (and the other way round).
    Keys {
        /// Move the keys: `keychain` or `files`.
        #[arg(long)]
        to: Option<humansync::KeyPlace>,
    },
    /// Wait until a condition holds (needs a running app); exit status 1 on timeout.
    WaitFor {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// The condition.
        #[command(subcommand)]
        condition: Condition,
    },
}

/// Conditions for `wait-for`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Condition {
    /// The document exists here.
    Doc {
        /// Document id.
        id: String,
    },
    /// The document does not exist here (deleted or never seen).
    Gone {
        /// Document id.
        id: String,
    },
    /// The body contains the text.
    Text {
        /// Document id.
        id: String,
        /// Text to find.
        needle: String,
    },
    /// The title equals the text.
    Title {
        /// Document id.
        id: String,
        /// Expected title.
        title: String,
    },
    /// The attachment is listed and its bytes are held here.
    Attachment {
        /// Document id.
        id: String,
        /// Attachment name.
        name: String,
    },
    /// A session with this peer (device id) is open.
    Peer {
        /// Device id.
        peer: String,
    },
    /// No session with this peer is open.
    NoPeer {
        /// Device id.
        peer: String,
    },
    /// At least this many peers are connected.
    Peers {
        /// Minimum count.
        count: usize,
    },
    /// At least one peer is connected and everything is exchanged (nothing pending).
    Synced,
}
