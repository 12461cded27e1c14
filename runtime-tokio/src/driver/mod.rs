//! The driver: one tokio task that owns the pure [`Core`] and performs what it asks — bytes to
//! iroh, disk tasks to the disk worker, blob work to the blob store, replies and events to the
//! app. It keeps no copy of the core's state: loads, saves, pending work, counters since start
//! and app requests are the core's, asked for when needed (`Core::io_counts`, `Core::totals`,
//! `Core::status`, `Output::AppDone`). What it keeps is what only it can know: the replies it
//! owes, the LAN addresses last acted on, and when each peer was last seen (wall-clock display
//! data for `Node::devices`, persisted in the store's last-seen file).
//!
//! # The run loop (a contract, as str0m's `Rtc` documents its own)
//! Everything that reaches the driver becomes one [`Input`]. Each turn of the loop:
//! 1. **wait** for the next input: an app request ([`Command`], bounded queue: the app waits when
//!    the driver is behind), a network event ([`NetEvent`], bounded: a peer waits), an answer
//!    of a task the driver started (disk, blob fetch or release, dial, blob added, a sweep's
//!    question: one unbounded queue, each answer small and owed), a change of the LAN
//!    neighbourhood (mDNS), or the core's timer — the deadline of `Core::poll_timeout`, never a
//!    fixed tick;
//! 2. **handle** it with exactly one mutation of the core (`handle_*`, or one app request);
//! 3. **drain** `Core::poll_output` until `None`, performing each output in order (`pump`).
//!
//! At most [`MAX_INPUTS_PER_TURN`] inputs are handled back to back before the task yields to
//! the runtime (firezone's `Tunnel::poll_next_event` caps its loop the same way), so a flood on
//! one queue cannot starve the transport's and the app's tasks.
//!
//! **Receiving at the disk's pace** (issue 17). While the core's document writes not yet
//! answered carry [`MAX_WRITE_BYTES_IN_FLIGHT`] or more (`Core::write_bytes_in_flight`, asked
//! of the core each turn, never mirrored), the driver takes no network event: the bounded
//! network queue fills and the peers' streams wait in QUIC's flow control. Every other input
//! is still taken, so the disk's answers — which need nothing from the network — bring the
//! bytes down and reading resumes. The peer's window (HS-SYNC-15) keeps what it sends meanwhile
//! small, since `Held` waits for these writes (HS-SYNC-14). The loop ends when the app asks
//! to shut down or every handle is gone; `shutdown.rs` then closes every step within a bound.

mod anchor;
mod blob_keeper;
mod command;
mod commands;
mod devices;
mod dial;
mod last_seen;
mod outputs;
#[cfg(test)]
mod reading_tests;
mod report;
mod shutdown;
mod store_worker;

use std::collections::BTreeMap;
use std::time::SystemTime;

use humansync_protocol::{BlobHash, DeviceId};
use humansync_sansio::{AppRequestId, Core, Event, Instant, IoResult, IoTaskId};
use tokio::sync::{broadcast, mpsc, watch};

pub(crate) use anchor::AnchorCommand;
use blob_keeper::{BlobKeeper, KeeperOp};
pub(crate) use command::{Command, Reply};
use dial::Dialer;
use last_seen::LastSeen;
use store_worker::StoreWorker;

use crate::pairing::PairingState;
use crate::transport::{Gate, NetEvent, Transport};

/// Most inputs handled back to back before the driver yields to other tasks.
pub(crate) const MAX_INPUTS_PER_TURN: usize = 64;

/// While the core's unanswered document writes carry this many bytes or more, the driver takes
/// no network event (see the module docs).
pub(crate) const MAX_WRITE_BYTES_IN_FLIGHT: usize = 4 * 1024 * 1024;

/// What the driver needs to run.
pub(crate) struct DriverParts {
    pub(crate) core: Core,
    pub(crate) transport: Transport,
    pub(crate) gate: Gate,
    pub(crate) store: crate::store::DocStore,
    pub(crate) net_events: mpsc::Receiver<NetEvent>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) pairing: PairingState,
    /// The driver's own queue: answers of the tasks it starts, and the blob store's sweeps.
    pub(crate) inputs: (mpsc::UnboundedSender<Input>, mpsc::UnboundedReceiver<Input>),
}

/// A sweep of the blob store asking which blobs to keep.
pub(crate) type KeepRequest = tokio::sync::oneshot::Sender<Vec<BlobHash>>;

/// Everything that reaches the driver; see the module docs.
pub(crate) enum Input {
    /// A request of the app (or of the node's discovery task).
    Command(Command),
    /// Something happened on a connection.
    Net(NetEvent),
    /// A task the core asked for (disk, blob fetch, blob release) is done.
    Io { id: IoTaskId, result: IoResult },
    /// A dial the core asked for failed or timed out.
    DialFailed(DeviceId),
    /// A blob is now held: stored by the app (with the import's temp tag) or fetched for it.
    BlobAdded {
        hash: BlobHash,
        hold: Option<iroh_blobs::api::TempTag>,
    },
    /// A sweep of the blob store asks which blobs to keep (HS-BLOB-4).
    KeepBlobs(KeepRequest),
    /// The LAN neighbourhood (mDNS) changed.
    LanChanged,
    /// The core's timer is due (`Core::poll_timeout`).
    Timeout,
    /// Every handle to the node is gone.
    Closed,
}

/// The driver's state; see the module docs.
struct Driver {
    core: Core,
    transport: std::sync::Arc<Transport>,
    gate: Gate,
    store: StoreWorker,
    /// The driver's own queue, handed to the tasks it starts.
    inputs: mpsc::UnboundedSender<Input>,
    events: broadcast::Sender<Event>,
    pairing: PairingState,
    base: tokio::time::Instant,
    base_wall: SystemTime,
    /// The reply owed for each app request the core has not completed yet.
    replies: BTreeMap<AppRequestId, Reply<()>>,
    /// The last app request id used.
    last_request: u64,
    dialer: Dialer,
    shutting_down: Option<Reply<()>>,
    /// The LAN peers and addresses last acted on.
    lan_seen: BTreeMap<DeviceId, Vec<std::net::SocketAddr>>,
    /// Applies keeps, releases and pins to the blob store in order (HS-BLOB-4).
    keeper: BlobKeeper,
    /// When a session with each peer was last open ([`crate::Node::devices`]).
    last_seen: LastSeen,
}

/// Where the driver's inputs come from (see [`next_input`]).
struct Sources {
    commands: mpsc::Receiver<Command>,
    net_events: mpsc::Receiver<NetEvent>,
    inputs: mpsc::UnboundedReceiver<Input>,
    lan: watch::Receiver<u64>,
    /// False once the LAN watch has ended (the transport is gone).
    lan_open: bool,
}

/// Runs the driver until shutdown.
pub(crate) async fn run(parts: DriverParts) {
    let DriverParts {
        core,
        transport,
        gate,
        store,
        net_events,
        commands,
        events,
        pairing,
        inputs: (inputs_tx, inputs),
    } = parts;
    let last_seen = LastSeen::new(store.last_seen());
    let store = StoreWorker::start(store, inputs_tx.clone());
    let transport = std::sync::Arc::new(transport);
    let keeper = BlobKeeper::start(transport.clone(), inputs_tx.clone());
    let mut sources = Sources {
        commands,
        net_events,
        inputs,
        lan: transport.lan_changes(),
        lan_open: true,
    };
    let mut driver = Driver {
        core,
        transport,
        keeper,
        gate,
        store,
        dialer: Dialer::new(inputs_tx.clone()),
        inputs: inputs_tx,
        events,
        pairing,
        base: tokio::time::Instant::now(),
        base_wall: SystemTime::now(),
        replies: BTreeMap::new(),
        last_request: 0,
        shutting_down: None,
        lan_seen: BTreeMap::new(),
        last_seen,
    };
    driver.adopt_server_relay().await;
    driver.know_server_addrs();
    driver.lan_news();
    driver.pump();
    let mut turn = 0;
    while driver.shutting_down.is_none() {
        let deadline = driver.deadline();
        let reading = driver.core.write_bytes_in_flight() < MAX_WRITE_BYTES_IN_FLIGHT;
        let input = next_input(&mut sources, deadline, reading).await;
        if let Input::Closed = input {
            break;
        }
        driver.handle_input(input).await;
        driver.pump();
        turn += 1;
        if turn == MAX_INPUTS_PER_TURN {
            turn = 0;
            tokio::task::yield_now().await;
        }
    }
    driver.shutdown().await;
}

impl Driver {
    fn now(&self) -> Instant {
        Instant(self.base.elapsed().as_millis() as u64)
    }

    /// When the core's timer is due (`Core::poll_timeout`), if it has one.
    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.core.poll_timeout_reason().map(|(t, reason)| {
            tracing::trace!(?reason, at_ms = t.0, "core timer");
            self.base + std::time::Duration::from_millis(t.0)
        })
    }

    /// Feeds one input to the core (one mutation; the caller drains the outputs).
    async fn handle_input(&mut self, input: Input) {
        let now = self.now();
        match input {
            Input::Command(cmd) => self.command(cmd).await,
            Input::Net(ev) => self.net(ev),
            Input::Io { id, result } => self.core.handle_io_result(now, id, result),
            Input::DialFailed(peer) => self.core.handle_dial_failed(now, peer),
            Input::BlobAdded { hash, hold } => {
                let was_held = self.core.holds_blob(&hash);
                self.core.handle_blob_added(now, hash);
                if !was_held {
                    // Tagged after any release of it already queued (HS-BLOB-4).
                    self.keeper.submit(KeeperOp::Keep { hash, hold });
                }
            }
            Input::KeepBlobs(reply) => {
                let _ = reply.send(self.core.blobs_to_keep().into_iter().collect());
            }
            Input::LanChanged => self.lan_news(),
            Input::Timeout => self.core.handle_timeout(now),
            Input::Closed => {}
        }
    }

    fn net(&mut self, event: NetEvent) {
        let now = self.now();
        match event {
            NetEvent::Connected { conn, peer, role } => {
                if let humansync_sansio::gate::Admission::Reject(code) =
                    self.core.handle_connection(now, conn, peer, role)
                {
                    self.transport.close(conn, code);
                }
            }
            NetEvent::Bytes { conn, bytes } => self.core.handle_bytes(now, conn, &bytes),
            NetEvent::Closed { conn, code } => self.core.handle_connection_closed(now, conn, code),
        }
    }
}

/// Waits for the next input from any source, or for the core's timer at `deadline`; network
/// events only when `reading` (the disk is not behind, see the module docs). (Holds no borrow
/// of the driver: the core, with the app's functions queued in it, is not `Sync`.)
async fn next_input(sources: &mut Sources, deadline: Option<tokio::time::Instant>, reading: bool) -> Input {
    let timer = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        cmd = sources.commands.recv() => cmd.map_or(Input::Closed, Input::Command),
        Some(ev) = sources.net_events.recv(), if reading => Input::Net(ev),
        // The driver holds a sender of its own queue: it never ends while the driver runs.
        Some(input) = sources.inputs.recv() => input,
        changed = sources.lan.changed(), if sources.lan_open => match changed {
            Ok(()) => Input::LanChanged,
            Err(_) => {
                sources.lan_open = false;
                Input::LanChanged
            }
        },
        () = timer => Input::Timeout,
    }
}
