//! The shared state of a run: configuration, the lab, the processes, the model and the journal.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use humansync_linkem::Lab;
use tokio::sync::Mutex;

use crate::journal::Journal;
use crate::model::Model;
use crate::procs::Proc;

/// What a run is told.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The seed of the schedule, the workload and the links.
    pub seed: u64,
    /// Cycles of chaos and heal.
    pub cycles: u32,
    /// Work directory (data, logs, journal).
    pub work: PathBuf,
    /// The `humandocs` binary.
    pub humandocs: PathBuf,
    /// The `humansync-server` binary.
    pub server_bin: PathBuf,
    /// Largest attachment, bytes.
    pub max_attachment: u64,
    /// Attachment bytes per run before only small ones (≤ 64 KiB) are added.
    pub attachment_budget: u64,
    /// Highest resident set size allowed for any process, bytes.
    pub memory_limit: u64,
    /// How long convergence may take after a heal.
    pub converge_bound: Duration,
    /// Size of the disk-full device's file system, MiB.
    pub disk_mib: u64,
    /// Lab name (namespaces `{lab}-…`).
    pub lab: String,
    /// Fault kinds left out of the schedule (see [`crate::schedule::Schedule::without`]).
    pub skip: Vec<String>,
}

/// The server's admin password in a run.
pub const PASSWORD: &str = "soak-password";

/// Where a device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevState {
    /// Not started yet.
    Absent,
    /// Running, not paired yet.
    Unpaired,
    /// Paired and registered since this soak time (ms).
    Registered(u64),
    /// Revoked at this soak time (ms).
    Revoked(u64),
}

/// One device.
#[derive(Debug)]
pub struct Device {
    /// Its process.
    pub proc: Proc,
    /// Its data directory.
    pub data: PathBuf,
    /// Its device id (hex), once known.
    pub id: Option<String>,
    /// Its state.
    pub state: DevState,
    /// When it was seen learning that the revoked device is revoked (soak ms).
    pub knows_revocation: Option<u64>,
    /// The libfaketime offset file, for the clock device.
    pub clock_file: Option<PathBuf>,
    /// Killed by the schedule and not started again yet.
    pub down_expected: bool,
    /// Documents this device listed as gone after their deletion was acknowledged.
    pub seen_gone: BTreeSet<String>,
    /// Of those, the ones it first listed as gone while its disk was full and that a heal has
    /// not confirmed yet: it may have shown a deletion it could not store, which a restart
    /// forgets until a peer sends the deletion again (the peer keeps it outstanding: HS-SYNC-14).
    pub gone_unstored: BTreeSet<String>,
    /// Documents this device has listed at some point.
    pub seen_present: BTreeSet<String>,
    /// Whether the workload may use it now (started and not mid-fault).
    pub busy: bool,
}

impl Device {
    /// The process stopped (killed or restarted): deletions it may not have stored are no
    /// longer expected to be gone until it lists them gone again.
    pub fn stopped(&mut self) {
        for id in std::mem::take(&mut self.gone_unstored) {
            self.seen_gone.remove(&id);
        }
    }

    /// A registered, not revoked device: the invariants hold for it.
    pub fn registered(&self) -> bool {
        matches!(self.state, DevState::Registered(_))
    }
}

/// The server.
#[derive(Debug)]
pub struct Server {
    /// Its process.
    pub proc: Proc,
    /// Its data directory (the volume).
    pub data: PathBuf,
    /// The last backup of the volume.
    pub backup: Option<PathBuf>,
    /// Its address in the lab.
    pub ip: Ipv4Addr,
    /// Its device id (hex), once known.
    pub id: Option<String>,
    /// Killed by the schedule and not started again yet.
    pub down_expected: bool,
}

impl Server {
    /// The HTTP API.
    pub fn http(&self) -> SocketAddr {
        SocketAddr::from((self.ip, 8080))
    }

    /// The URL devices pair with.
    pub fn url(&self) -> String {
        format!("http://{}:8080", self.ip)
    }
}

/// The whole run.
pub struct World {
    /// Configuration.
    pub cfg: SoakConfig,
    /// The emulated network.
    pub lab: Lab,
    /// The server.
    pub server: Server,
    /// Devices by name.
    pub devices: BTreeMap<String, Device>,
    /// What was acknowledged.
    pub model: Model,
    /// The record.
    pub journal: Journal,
    /// The workload holds still (heals).
    pub paused: bool,
    /// The run is over: tasks stop.
    pub stopping: bool,
    /// The disk device's file system is full since this soak time.
    pub disk_full_since: Option<u64>,
    /// It was last freed at this soak time.
    pub disk_freed_at: Option<u64>,
    /// The process to kill after the next large attachment.
    pub armed_blob_kill: Option<String>,
    /// The revocation's acknowledgement time.
    pub revoked_at: Option<u64>,
    /// When every registered peer had learned of it.
    pub revocation_known_by_all: Option<u64>,
    /// Attachment bytes added so far.
    pub attachment_bytes: u64,
    /// Base link profile of each node (what heals restore).
    pub base_profiles: BTreeMap<String, &'static str>,
}

/// The world, shared by the run's tasks.
pub type Shared = Arc<Mutex<World>>;

impl World {
    /// Registered devices (the invariants' subjects), by name.
    pub fn registered(&self) -> Vec<String> {
        self.devices
            .iter()
            .filter(|(_, d)| d.registered())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The epoch (number of starts) of a process.
    pub fn epoch(&self, name: &str) -> u64 {
        if name == crate::schedule::SERVER {
            self.server.proc.epoch
        } else {
            self.devices.get(name).map_or(0, |d| d.proc.epoch)
        }
    }
}
