//! The simulation and its driving loop: a fake clock that jumps to the earliest wakeup — the
//! next scheduled event or the earliest core timer — and one step per wakeup.

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use humansync_protocol::DeviceId;

use super::config::SimConfig;
use super::events::{EventQueue, SimEvent};
use super::net::Net;
use super::node::SimNode;
use super::rng::SimRng;
use crate::{Core, Instant};

/// Index of the server node.
pub const SERVER: usize = 0;

/// A deterministic multi-device simulation. Same seed, same run.
#[derive(Debug)]
pub struct Sim {
    /// The fake clock.
    pub now: Instant,
    /// The seed this run started from (printed on failure).
    pub seed: u64,
    pub(crate) rng: SimRng,
    pub(crate) cfg: SimConfig,
    /// All nodes; index 0 is the server (the registry anchor).
    pub nodes: Vec<SimNode>,
    pub(crate) net: Net,
    pub(crate) queue: EventQueue,
    next_dial: Instant,
    /// Message log, when enabled: `t=12 d1->server Hello{..}`.
    pub transcript: Vec<String>,
    /// Invariant violations seen so far (must stay empty).
    pub violations: Vec<String>,
    pub(crate) revoked_seen: Vec<BTreeSet<DeviceId>>,
    /// Dial requests the cores emitted ([`crate::Output::Dial`]).
    pub dials: u64,
    /// Sessions closed with CLOSE_DUPLICATE (the duplicate-session tie-break, HS-TRANSPORT-3/4).
    pub duplicate_closes: u64,
}

impl Sim {
    /// A simulation with a server and `devices` paired devices.
    pub fn new(seed: u64, devices: usize, cfg: SimConfig) -> Sim {
        let mut rng = SimRng::new(seed);
        let server_key = SigningKey::from_bytes(&rng.bytes32());
        let server = SimNode::new("server", server_key, false, cfg.max_doc_bytes);
        let mut sim = Sim {
            now: Instant(0),
            seed,
            rng,
            cfg,
            nodes: vec![server],
            net: Net::new(),
            queue: EventQueue::default(),
            next_dial: Instant(0),
            transcript: Vec::new(),
            violations: Vec::new(),
            revoked_seen: vec![BTreeSet::new()],
            dials: 0,
            duplicate_closes: 0,
        };
        let server_id = sim.nodes[SERVER].id();
        sim.nodes[SERVER].host.anchor = Some(server_id);
        sim.nodes[SERVER].boot(Instant(0));
        sim.pump(SERVER);
        for i in 0..devices {
            let idx = sim.add_node(&format!("d{}", i + 1), false);
            sim.pair(idx);
        }
        sim
    }

    /// Adds an unpaired node (or a rogue one that is never paired).
    pub fn add_node(&mut self, name: &str, rogue: bool) -> usize {
        let key = SigningKey::from_bytes(&self.rng.bytes32());
        let mut node = SimNode::new(name, key, rogue, self.cfg.max_doc_bytes);
        node.boot(self.now);
        self.nodes.push(node);
        self.revoked_seen.push(BTreeSet::new());
        let idx = self.nodes.len() - 1;
        self.pump(idx);
        idx
    }

    /// Runs for `ms` of simulated time.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now.plus_ms(ms);
        while self.step(until) {}
        self.now = until;
    }

    /// Runs for `ms` of simulated time like [`Sim::run_for`], calling `check` after every event;
    /// returns the first error `check` reports.
    pub fn run_checked(
        &mut self,
        ms: u64,
        mut check: impl FnMut(&Sim) -> Result<(), String>,
    ) -> Result<(), String> {
        let until = self.now.plus_ms(ms);
        while self.step(until) {
            check(self)?;
        }
        self.now = until;
        Ok(())
    }

    /// Runs until nothing is in flight and every session is settled, at most `max_ms`.
    /// Returns false if it did not settle in time.
    pub fn settle(&mut self, max_ms: u64) -> bool {
        let deadline = self.now.plus_ms(max_ms);
        loop {
            self.run_for(self.cfg.dial_interval_ms);
            if self.queue.iter().all(|ev| self.rogue_noise(ev)) && self.all_settled() {
                return true;
            }
            if self.now >= deadline {
                return false;
            }
        }
    }

    /// Runs the simulation until node `idx` has no disk I/O outstanding.
    pub(crate) fn flush_io(&mut self, idx: usize) {
        while self
            .queue
            .iter()
            .any(|e| matches!(e, SimEvent::Io { node, .. } if *node == idx))
        {
            let until = self.now.plus_ms(1);
            while self.step(until) {}
            self.now = until;
        }
    }

    /// Processes the next wakeup before `until` — a rogue dial round, a core timer or the
    /// earliest event, jumping the clock to it; false when none is left.
    fn step(&mut self, until: Instant) -> bool {
        if self.now >= self.next_dial {
            self.next_dial = self.now.plus_ms(self.cfg.dial_interval_ms);
            self.dial_missing();
        }
        let timer = self.next_timer();
        let next = match (self.queue.next_at(), timer) {
            (Some(e), Some((t, _))) => e.min(t),
            (Some(e), None) => e,
            (None, Some((t, _))) => t,
            (None, None) => return false,
        };
        let next = next.max(self.now);
        if next > until || next > self.next_dial {
            if self.next_dial <= until && self.next_dial > self.now {
                self.now = self.next_dial;
                return true;
            }
            return false;
        }
        self.now = next;
        if let Some((t, idx)) = timer
            && t <= self.now
        {
            let now = self.now;
            if let Some(core) = self.nodes[idx].host.core.as_mut() {
                core.handle_timeout(now);
            }
            self.pump(idx);
            return true;
        }
        let Some(event) = self.queue.pop() else {
            return false;
        };
        self.handle_event(event);
        true
    }

    /// The earliest core timer and whose it is.
    fn next_timer(&self) -> Option<(Instant, usize)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                n.host
                    .core
                    .as_ref()
                    .and_then(|c| c.poll_timeout())
                    .map(|t| (t, i))
            })
            .min()
    }

    /// The server's core (panics while the server is down: a test's own mistake).
    pub(crate) fn server_core(&mut self) -> &mut Core {
        self.nodes[SERVER]
            .host
            .core
            .as_mut()
            .unwrap_or_else(|| panic!("the server is down"))
    }

    /// Draws from the simulation's RNG (for workload generators).
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }
}
