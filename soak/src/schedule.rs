//! The seeded fault schedule: a list of faults at fixed times of *chaos time* (the clock that
//! runs only while faults are on; heals pause it), generated from the seed alone, so the same
//! seed replays the same schedule.
//!
//! A run is a number of cycles, each [`CHAOS_MS`] of faults and workload followed by a heal
//! (every fault undone, workload paused, convergence measured and the invariants checked).
//! Cycle 0 takes a backup of the server's volume and pairs a third device (`d3`, sometimes
//! killed mid-pairing); cycle 1 restores the server from that backup, revokes `d2` (sometimes
//! killing the server during the revocation) and pairs a replacement (`d4`). Every cycle also
//! draws random faults: link profile changes, links down (the server's too), kill -9 and
//! graceful restarts of any process, a full disk on `d1`, clock jumps on `d3`, server restarts,
//! and kills aimed at the next large attachment's transfer.

use serde::Serialize;

use crate::rng::Rng;

/// Chaos time per cycle, ms.
pub const CHAOS_MS: u64 = 55_000;
/// The server process's name.
pub const SERVER: &str = "server";
/// Devices paired at the start.
pub const INITIAL_DEVICES: &[&str] = &["d1", "d2"];
/// Every device of a run, in the order they join.
pub const DEVICES: &[&str] = &["d1", "d2", "d3", "d4"];
/// The device whose data lives on a small file system that the schedule fills.
pub const DISK_DEVICE: &str = "d1";
/// The device whose wall clock the schedule jumps.
pub const CLOCK_DEVICE: &str = "d3";
/// The device revoked mid-run.
pub const REVOKED_DEVICE: &str = "d2";

/// One fault (or structural event) of the schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Changes a node's link to a named profile with an extra loss override.
    LinkProfile {
        /// Node.
        node: String,
        /// Profile name.
        profile: String,
        /// Loss each way.
        loss: f64,
    },
    /// Takes a node's link down (silent drops) — the server's isolates it.
    LinkDown {
        /// Node.
        node: String,
    },
    /// Brings a node's link back.
    LinkUp {
        /// Node.
        node: String,
    },
    /// SIGKILL.
    Kill {
        /// Process.
        target: String,
    },
    /// SIGTERM, wait, start again.
    Restart {
        /// Process.
        target: String,
    },
    /// Starts a killed process again.
    Start {
        /// Process.
        target: String,
    },
    /// Fills [`DISK_DEVICE`]'s file system.
    DiskFull,
    /// Frees it again.
    DiskFree,
    /// Moves [`CLOCK_DEVICE`]'s wall clock by this many seconds.
    ClockJump {
        /// Offset from the true time, seconds.
        offset_s: i64,
    },
    /// Copies the server's volume (frozen with SIGSTOP meanwhile).
    ServerBackup,
    /// Kills the server, replaces its volume with the last backup, starts it.
    ServerRestore,
    /// Starts a new device with the server URL and password: it pairs in the background.
    Pair {
        /// Device.
        device: String,
        /// Kill it this long after its start (mid-pairing), then start it again.
        kill_after_ms: Option<u64>,
    },
    /// Revokes a device from another registered device (an OPAQUE login with the password).
    Revoke {
        /// Device.
        device: String,
        /// Kill the server this long after sending the request.
        kill_server_after_ms: Option<u64>,
    },
    /// The next attachment of at least 1 MiB acknowledged anywhere gets this process killed
    /// within 3 s (mid-transfer).
    ArmBlobKill {
        /// Process.
        target: String,
    },
}

/// A fault at a time of chaos.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Cycle number.
    pub cycle: u32,
    /// Chaos time, ms since the run's start.
    pub at_ms: u64,
    /// What happens.
    pub fault: Fault,
}

/// The whole schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// The seed it came from.
    pub seed: u64,
    /// Number of cycles (a heal ends each).
    pub cycles: u32,
    /// Entries sorted by time.
    pub entries: Vec<Entry>,
}

/// Processes that exist in cycle `cycle` (devices join in cycles 0 and 1).
fn targets(cycle: u32) -> Vec<String> {
    let mut t = vec![SERVER.to_owned(), "d1".to_owned(), "d2".to_owned()];
    if cycle >= 1 {
        t.push("d3".to_owned());
    }
    if cycle >= 2 {
        t.push("d4".to_owned());
    }
    t
}

impl Schedule {
    /// The schedule of `cycles` cycles for `seed`.
    pub fn generate(seed: u64, cycles: u32) -> Schedule {
        let mut rng = Rng::new(seed, 0);
        let mut entries = Vec::new();
        for cycle in 0..cycles {
            let base = u64::from(cycle) * CHAOS_MS;
            let mut add = |at: u64, fault: Fault| {
                entries.push(Entry {
                    cycle,
                    at_ms: base + at.min(CHAOS_MS - 1),
                    fault,
                })
            };
            match cycle {
                0 => {
                    add(rng.range(12_000, 40_000), Fault::ServerBackup);
                    let kill = rng.chance(0.6).then(|| rng.range(0, 2_500));
                    add(
                        rng.range(8_000, 35_000),
                        Fault::Pair {
                            device: "d3".into(),
                            kill_after_ms: kill,
                        },
                    );
                }
                1 => {
                    add(rng.range(3_000, 15_000), Fault::ServerRestore);
                    let kill = rng.chance(0.5).then(|| rng.range(0, 400));
                    add(
                        rng.range(22_000, 32_000),
                        Fault::Revoke {
                            device: REVOKED_DEVICE.into(),
                            kill_server_after_ms: kill,
                        },
                    );
                    let kill = rng.chance(0.4).then(|| rng.range(0, 2_500));
                    add(
                        rng.range(36_000, 48_000),
                        Fault::Pair {
                            device: "d4".into(),
                            kill_after_ms: kill,
                        },
                    );
                }
                c if c % 4 == 2 => add(rng.range(5_000, 45_000), Fault::ServerBackup),
                c if c % 4 == 0 => add(rng.range(5_000, 45_000), Fault::ServerRestore),
                _ => {}
            }
            random_faults(&mut rng, cycle, &mut add);
        }
        entries.sort_by_key(|e| e.at_ms);
        Schedule {
            seed,
            cycles,
            entries,
        }
    }

    /// The schedule without the faults of the given kinds (and their undo entries): a way to
    /// keep a known, reported failure out of a run while it is being fixed.
    pub fn without(mut self, kinds: &[String]) -> Schedule {
        let undo = |k: &str| match k {
            "disk_full" => Some("disk_free"),
            "clock_jump" => Some("clock_restore"),
            "link_down" | "server_isolated" => Some("link_up"),
            _ => None,
        };
        let mut drop: Vec<String> = kinds.to_vec();
        drop.extend(kinds.iter().filter_map(|k| undo(k)).map(str::to_owned));
        self.entries.retain(|e| !drop.iter().any(|k| k == kind(&e.fault)));
        self
    }

    /// Counts of entries by kind.
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, u32> {
        let mut out = std::collections::BTreeMap::new();
        for e in &self.entries {
            *out.entry(kind(&e.fault)).or_insert(0) += 1;
        }
        out
    }
}

/// The kind's name, for counts.
pub fn kind(fault: &Fault) -> &'static str {
    match fault {
        Fault::LinkProfile { .. } => "link_profile",
        Fault::LinkDown { node } if node == SERVER => "server_isolated",
        Fault::LinkDown { .. } => "link_down",
        Fault::LinkUp { .. } => "link_up",
        Fault::Kill { target } if target == SERVER => "kill9_server",
        Fault::Kill { .. } => "kill9_device",
        Fault::Restart { target } if target == SERVER => "server_restart",
        Fault::Restart { .. } => "device_restart",
        Fault::Start { .. } => "start",
        Fault::DiskFull => "disk_full",
        Fault::DiskFree => "disk_free",
        Fault::ClockJump { offset_s: 0 } => "clock_restore",
        Fault::ClockJump { .. } => "clock_jump",
        Fault::ServerBackup => "server_backup",
        Fault::ServerRestore => "server_restore",
        Fault::Pair { .. } => "pair",
        Fault::Revoke { .. } => "revoke",
        Fault::ArmBlobKill { .. } => "kill9_mid_blob",
    }
}

/// Random faults of one cycle, about one every 4 s of chaos; every fault with a duration is
/// undone within the cycle.
fn random_faults(rng: &mut Rng, cycle: u32, add: &mut impl FnMut(u64, Fault)) {
    let procs = targets(cycle);
    let nodes = procs.clone();
    let mut at = rng.range(2_000, 5_000);
    // Faults end before the heal: the last 4 s of a cycle are left for the undo entries.
    while at < CHAOS_MS - 8_000 {
        let end = |rng: &mut Rng, lo: u64, hi: u64| (at + rng.range(lo, hi)).min(CHAOS_MS - 2_000);
        match rng.weighted(&[22, 16, 16, 4, 7, 6, 5, 8]) {
            0 => {
                let node = rng.pick(&nodes).clone();
                let profile = (*rng.pick(&["broadband", "lte", "poor", "lte"])).to_owned();
                let loss = *rng.pick(&[0.0, 0.005, 0.02, 0.05, 0.1]);
                add(at, Fault::LinkProfile { node, profile, loss });
            }
            1 => {
                // A quarter of the partitions isolate the server.
                let node = if rng.chance(0.25) {
                    "server".to_owned()
                } else {
                    rng.pick(&nodes).clone()
                };
                add(at, Fault::LinkDown { node: node.clone() });
                add(end(rng, 2_000, 15_000), Fault::LinkUp { node });
            }
            2 => {
                let target = rng.pick(&procs).clone();
                add(
                    at,
                    Fault::Kill {
                        target: target.clone(),
                    },
                );
                add(end(rng, 300, 5_000), Fault::Start { target });
            }
            3 => {
                let target = rng.pick(&procs).clone();
                add(at, Fault::Restart { target });
            }
            4 => {
                add(at, Fault::DiskFull);
                add(end(rng, 4_000, 15_000), Fault::DiskFree);
            }
            5 if cycle >= 1 => {
                let offset_s = *rng.pick(&[3_600, 2 * 86_400, -3 * 3_600, -30 * 86_400, 400 * 86_400]);
                add(at, Fault::ClockJump { offset_s });
                add(end(rng, 5_000, 20_000), Fault::ClockJump { offset_s: 0 });
            }
            6 => add(
                at,
                Fault::Restart {
                    target: SERVER.into(),
                },
            ),
            _ => {
                let target = rng.pick(&procs).clone();
                add(at, Fault::ArmBlobKill { target });
            }
        }
        at += rng.range(2_000, 6_500);
    }
}
