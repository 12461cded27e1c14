//! The simulation driver: a fake clock, a seeded network of QUIC-like connections, nodes that
//! crash and restart, and the invariant checks that run after every step.

use std::collections::{BTreeMap, BTreeSet};

use automerge::ReadDoc;
use ed25519_dalek::SigningKey;
use humansync_protocol::{CloseCode, DocId, FrameDecoder, RegistryRecord};

use super::node::{PendingEdit, SimNode};
use super::rng::SimRng;
use crate::gate::Admission;
use crate::{ConnId, Event, Instant, IoAction, IoResult, IoTaskId, Output, Role};

/// Network and disk behaviour of a simulation.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// One-way packet latency range, ms.
    pub latency_ms: (u64, u64),
    /// Probability a packet is lost (the transport retransmits it after `rto_ms`).
    pub loss: f64,
    /// Probability a packet is duplicated (the transport discards the copy).
    pub duplicate: f64,
    /// Retransmission delay for a lost packet, ms.
    pub rto_ms: u64,
    /// Largest chunk a transmit is split into, bytes.
    pub max_chunk: usize,
    /// Disk latency range per I/O task, ms.
    pub io_ms: (u64, u64),
    /// How often nodes try to (re)connect to peers they are not connected to, ms.
    pub dial_interval_ms: u64,
    /// Record a transcript of every message.
    pub transcript: bool,
    /// Probability that a dial crosses one from the peer (a fault that exercises the
    /// duplicate-session tie-break, HS-TRANSPORT-3).
    pub crossing_dials: f64,
    /// Every node's [`crate::CoreConfig::max_doc_bytes`]: lowered, documents of a few KiB take
    /// the large-document path of HS-SYNC-9.
    pub max_doc_bytes: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            latency_ms: (1, 20),
            loss: 0.02,
            duplicate: 0.01,
            rto_ms: 50,
            max_chunk: 1200,
            io_ms: (0, 5),
            dial_interval_ms: 500,
            transcript: false,
            crossing_dials: 0.1,
            max_doc_bytes: humansync_protocol::limits::MAX_DOC_BYTES,
        }
    }
}

/// One connection between two nodes, modelled as a pair of reliable ordered streams over a lossy,
/// reordering, duplicating packet network (what QUIC gives the core).
#[derive(Debug)]
struct SimConn {
    ends: [usize; 2],
    epochs: [u64; 2],
    alive: bool,
    next_seq: [u64; 2],
    expect: [u64; 2],
    reorder: [BTreeMap<u64, Vec<u8>>; 2],
    last_arrival: [Instant; 2],
    decoders: [FrameDecoder; 2],
}

#[derive(Debug)]
enum SimEvent {
    Packet {
        conn: ConnId,
        to: usize,
        seq: u64,
        bytes: Vec<u8>,
    },
    Io {
        node: usize,
        epoch: u64,
        id: IoTaskId,
        action: IoAction,
    },
    Closed {
        conn: ConnId,
        node: usize,
        epoch: u64,
        code: CloseCode,
    },
    /// A dial the core of `from` asked for reaches `to` (or fails) now.
    Dial { from: usize, epoch: u64, to: usize },
    /// The dial from `from` to `to` failed.
    DialFailed { from: usize, epoch: u64, to: usize },
}

/// A deterministic multi-device simulation. Same seed, same run.
#[derive(Debug)]
pub struct Sim {
    /// The fake clock.
    pub now: Instant,
    /// The seed this run started from (printed on failure).
    pub seed: u64,
    rng: SimRng,
    cfg: SimConfig,
    /// All nodes; index 0 is the server (the registry anchor).
    pub nodes: Vec<SimNode>,
    conns: BTreeMap<ConnId, SimConn>,
    queue: BTreeMap<(Instant, u64), SimEvent>,
    seq: u64,
    next_conn: u64,
    cut: BTreeSet<(usize, usize)>,
    next_dial: Instant,
    /// Message log, when enabled: `t=12 d1->server Hello{..}`.
    pub transcript: Vec<String>,
    /// Invariant violations seen so far (must stay empty).
    pub violations: Vec<String>,
    revoked_seen: Vec<BTreeSet<humansync_protocol::DeviceId>>,
    /// Dial requests the cores emitted ([`Output::Dial`]).
    pub dials: u64,
    /// Sessions closed with CLOSE_DUPLICATE (the duplicate-session tie-break, HS-TRANSPORT-3/4).
    pub duplicate_closes: u64,
}

/// Index of the server node.
pub const SERVER: usize = 0;

/// How long a dial to a node that is down or cut off takes to fail, ms.
const DIAL_TIMEOUT_MS: u64 = 1_000;

impl Sim {
    /// A simulation with a server and `devices` paired devices.
    pub fn new(seed: u64, devices: usize, cfg: SimConfig) -> Sim {
        let mut rng = SimRng::new(seed);
        let server_key = SigningKey::from_bytes(&rng.bytes32());
        let mut sim = Sim {
            now: Instant(0),
            seed,
            rng,
            cfg,
            nodes: vec![SimNode::new("server", server_key, false)],
            conns: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            next_conn: 1,
            cut: BTreeSet::new(),
            next_dial: Instant(0),
            transcript: Vec::new(),
            violations: Vec::new(),
            revoked_seen: vec![BTreeSet::new()],
            dials: 0,
            duplicate_closes: 0,
        };
        let server_id = sim.nodes[SERVER].id;
        sim.nodes[SERVER].anchor = Some(server_id);
        let limit = sim.cfg.max_doc_bytes;
        sim.nodes[SERVER].boot(Instant(0), limit);
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
        let mut node = SimNode::new(name, key, rogue);
        node.boot(self.now, self.cfg.max_doc_bytes);
        self.nodes.push(node);
        self.revoked_seen.push(BTreeSet::new());
        let idx = self.nodes.len() - 1;
        self.pump(idx);
        idx
    }

    /// Pairs a node: the server signs its Device record; the node trusts the server and receives
    /// every record, as POST /pair returns them (HS-PAIR-6).
    pub fn pair(&mut self, idx: usize) {
        let record = RegistryRecord::Device {
            device: self.nodes[idx].id,
            name: self.nodes[idx].name.clone(),
            paired_at_ms: self.now.0,
        };
        let signed = record
            .sign(&self.nodes[SERVER].key)
            .unwrap_or_else(|e| panic!("sign: {e}"));
        let now = self.now;
        self.server_core()
            .add_registry_record(now, &signed)
            .unwrap_or_else(|e| panic!("server record: {e}"));
        self.pump(SERVER);
        // POST /pair answers only once the record is durable on the server.
        self.flush_io(SERVER);
        let anchor = self.nodes[SERVER].id;
        let records: Vec<_> = self.server_core().registry().records().cloned().collect();
        self.nodes[idx].anchor = Some(anchor);
        let node = &mut self.nodes[idx];
        if let Some(core) = node.core.as_mut() {
            core.set_anchor(now, anchor)
                .unwrap_or_else(|e| panic!("anchor: {e}"));
            for r in &records {
                core.add_registry_record(now, r)
                    .unwrap_or_else(|e| panic!("record: {e}"));
            }
        }
        self.pump(idx);
    }

    /// Revokes a device at the server (DELETE /devices/{id}).
    pub fn revoke(&mut self, idx: usize) {
        let record = RegistryRecord::Revoked {
            device: self.nodes[idx].id,
            revoked_at_ms: self.now.0,
        };
        let signed = record
            .sign(&self.nodes[SERVER].key)
            .unwrap_or_else(|e| panic!("sign: {e}"));
        let now = self.now;
        if let Some(core) = self.nodes[SERVER].core.as_mut() {
            core.add_registry_record(now, &signed)
                .unwrap_or_else(|e| panic!("server record: {e}"));
        }
        self.pump(SERVER);
        // DELETE /devices answers only once the revocation is durable on the server.
        self.flush_io(SERVER);
    }

    /// Runs the simulation until node `idx` has no disk I/O outstanding.
    fn flush_io(&mut self, idx: usize) {
        while self
            .queue
            .values()
            .any(|e| matches!(e, SimEvent::Io { node, .. } if *node == idx))
        {
            let until = self.now.plus_ms(1);
            while self.step(until) {}
            self.now = until;
        }
    }

    fn server_core(&mut self) -> &mut crate::Core {
        self.nodes[SERVER]
            .core
            .as_mut()
            .unwrap_or_else(|| panic!("the server is down"))
    }

    /// Puts `key = node name` into `doc` on node `idx` (creating the doc), as an app would.
    pub fn edit(&mut self, idx: usize, doc: &DocId, key: &str) {
        let now = self.now;
        let Some(core) = self.nodes[idx].core.as_mut() else {
            return;
        };
        match core.open(now, doc, true) {
            Ok(crate::OpenState::Ready) => self.apply_edit(idx, doc, key),
            Ok(crate::OpenState::Loading) => self.nodes[idx].pending_edits.push(PendingEdit {
                doc: doc.clone(),
                key: key.to_owned(),
            }),
            Ok(crate::OpenState::NotFound) | Err(_) => {}
        }
        self.pump(idx);
    }

    fn apply_edit(&mut self, idx: usize, doc: &DocId, key: &str) {
        let now = self.now;
        let name = self.nodes[idx].name.clone();
        let Some(core) = self.nodes[idx].core.as_mut() else {
            return;
        };
        let result = core.change(now, doc, |am| {
            am.transact::<_, _, automerge::AutomergeError>(|tx| {
                use automerge::transaction::Transactable;
                tx.put(automerge::ROOT, key, name.as_str())?;
                Ok(())
            })
            .is_ok()
        });
        if let Ok((true, Some(task))) = result {
            self.nodes[idx]
                .task_edits
                .insert(task, (doc.clone(), key.to_owned()));
        }
    }

    /// Stores a new blob on node `idx` (as `store_blob` would) and references it from `doc` under
    /// `key` (HS-BLOB-1). Returns its hash.
    pub fn add_blob(&mut self, idx: usize, doc: &DocId, key: &str) -> humansync_protocol::BlobHash {
        let hash = humansync_protocol::BlobHash(self.rng.bytes32());
        let now = self.now;
        self.nodes[idx].store.blobs.insert(hash);
        if let Some(core) = self.nodes[idx].core.as_mut() {
            core.handle_blob_added(now, hash);
        }
        self.pump(idx);
        let reference = hash.to_reference();
        let Some(core) = self.nodes[idx].core.as_mut() else {
            return hash;
        };
        if core.open(now, doc, true) == Ok(crate::OpenState::Ready) {
            let _ = core.change(now, doc, |am| {
                am.transact::<_, _, automerge::AutomergeError>(|tx| {
                    use automerge::transaction::Transactable;
                    tx.put(automerge::ROOT, key, reference.as_str())?;
                    Ok(())
                })
                .is_ok()
            });
        }
        self.pump(idx);
        hash
    }

    /// Blobs referenced by live documents on node `idx` that it does not hold (HS-BLOB-2).
    pub fn missing_blobs(&self, idx: usize) -> Vec<humansync_protocol::BlobHash> {
        self.nodes[idx]
            .core
            .as_ref()
            .map(|c| c.missing_blobs())
            .unwrap_or_default()
    }

    /// Runs `f` on node `idx`'s core (if it is up) with the current time, then drains its outputs.
    pub fn with_core<R>(&mut self, idx: usize, f: impl FnOnce(&mut crate::Core, Instant) -> R) -> Option<R> {
        let now = self.now;
        let out = self.nodes[idx].core.as_mut().map(|core| f(core, now));
        self.pump(idx);
        out
    }

    /// Deletes `doc` on node `idx`.
    pub fn delete(&mut self, idx: usize, doc: &DocId) {
        let now = self.now;
        if let Some(core) = self.nodes[idx].core.as_mut() {
            let _ = core.delete(now, doc);
        }
        self.pump(idx);
    }

    /// Writes documents straight into a node's disk and reboots it from there (for large fixtures).
    pub fn preload(&mut self, idx: usize, docs: &[(DocId, Vec<u8>)]) {
        for (doc, bytes) in docs {
            let Ok(am) = crate::untrusted::load(bytes) else {
                continue;
            };
            let mut heads: Vec<humansync_protocol::ChangeHash> = am
                .get_heads()
                .iter()
                .map(|h| humansync_protocol::ChangeHash(h.0))
                .collect();
            heads.sort_unstable();
            let meta = crate::DocMeta {
                heads,
                blobs: Vec::new(),
                tombstone: false,
            };
            let write = crate::DocWrite::Replace(bytes.clone());
            self.nodes[idx].store.save(doc, Some(&write), &meta, &[]);
        }
        self.crash(idx);
        self.restart(idx);
    }

    /// Closes every connection of node `idx` (as if its network dropped for a moment).
    pub fn disconnect(&mut self, idx: usize) {
        let conns: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.alive && c.ends.contains(&idx))
            .map(|(id, _)| *id)
            .collect();
        for conn in conns {
            self.kill_conn(conn, CloseCode::NORMAL);
        }
    }

    /// Bytes and frames sent each way on the live connection between `a` and `b`:
    /// `(bytes a→b, frames a→b, bytes b→a, frames b→a)`.
    pub fn link_stats(&self, a: usize, b: usize) -> Option<(u64, u64, u64, u64)> {
        let (conn, _) = self
            .conns
            .iter()
            .find(|(_, c)| c.alive && (c.ends == [a, b] || c.ends == [b, a]))?;
        let sa = self.nodes[a].core.as_ref()?.session_stats(*conn)?;
        let sb = self.nodes[b].core.as_ref()?.session_stats(*conn)?;
        Some((sa.bytes_out, sa.frames_out, sb.bytes_out, sb.frames_out))
    }

    /// Crashes a node: its connections drop and unfinished I/O is lost.
    pub fn crash(&mut self, idx: usize) {
        self.nodes[idx].core = None;
        self.nodes[idx].epoch += 1;
        let conns: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.alive && c.ends.contains(&idx))
            .map(|(id, _)| *id)
            .collect();
        for conn in conns {
            self.kill_conn(conn, CloseCode::INTERNAL);
        }
    }

    /// Crashes a node without its peers noticing: their ends of its connections stay open
    /// (half-open, as after a kill -9 behind a lost close packet) and what they send is lost.
    pub fn crash_half_open(&mut self, idx: usize) {
        self.nodes[idx].core = None;
        self.nodes[idx].epoch += 1;
    }

    /// Restarts a crashed node from its disk.
    pub fn restart(&mut self, idx: usize) {
        if self.nodes[idx].is_up() {
            return;
        }
        let now = self.now;
        self.nodes[idx].boot(now, self.cfg.max_doc_bytes);
        self.pump(idx);
    }

    /// Cuts (or heals) the link between two nodes; cutting closes their connections.
    pub fn set_cut(&mut self, a: usize, b: usize, cut: bool) {
        let pair = (a.min(b), a.max(b));
        if cut {
            self.cut.insert(pair);
            let conns: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.alive && (c.ends == [a, b] || c.ends == [b, a]))
                .map(|(id, _)| *id)
                .collect();
            for conn in conns {
                self.kill_conn(conn, CloseCode::TIMEOUT);
            }
        } else {
            self.cut.remove(&pair);
        }
    }

    /// Heals every cut.
    pub fn heal_all(&mut self) {
        self.cut.clear();
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

    /// Chunks of bytes `from` has sent to `to` on live connections that `to` has not processed yet.
    pub fn undelivered(&self, from: usize, to: usize) -> u64 {
        self.conns
            .values()
            .filter(|c| c.alive)
            .filter_map(|c| {
                // Stream `side` carries what `ends[side]` sends.
                let side = if c.ends == [from, to] {
                    0
                } else if c.ends == [to, from] {
                    1
                } else {
                    return None;
                };
                Some(c.next_seq[side] - c.expect[side])
            })
            .sum()
    }

    /// Runs until nothing is in flight and every session is settled, at most `max_ms`.
    /// Returns false if it did not settle in time.
    pub fn settle(&mut self, max_ms: u64) -> bool {
        let deadline = self.now.plus_ms(max_ms);
        loop {
            self.run_for(self.cfg.dial_interval_ms);
            if self.queue.values().all(|ev| self.rogue_noise(ev)) && self.all_settled() {
                return true;
            }
            if self.now >= deadline {
                return false;
            }
        }
    }

    /// Events of a rogue node's refused dials: they recur at every dial interval and are not
    /// work in flight between members. (A far timer, such as a blob's grace period, makes a
    /// run stop just after the periodic dials instead of just before.)
    fn rogue_noise(&self, event: &SimEvent) -> bool {
        match event {
            SimEvent::Dial { from, .. } | SimEvent::DialFailed { from, .. } => self.nodes[*from].rogue,
            SimEvent::Closed { conn, .. } | SimEvent::Packet { conn, .. } => self
                .conns
                .get(conn)
                .is_some_and(|c| c.ends.iter().any(|n| self.nodes[*n].rogue)),
            SimEvent::Io { .. } => false,
        }
    }

    fn all_settled(&self) -> bool {
        let wanted = self.wanted_links();
        // A link is up when both ends hold an open session on the same live connection (a
        // half-open one, held at one end only, does not count).
        let open_at = |node: usize, conn: ConnId| {
            self.nodes[node]
                .core
                .as_ref()
                .is_some_and(|c| c.status().peers.iter().any(|p| p.conn == conn && p.open))
        };
        let connected: BTreeSet<(usize, usize)> = self
            .conns
            .iter()
            .filter(|(id, c)| c.alive && open_at(c.ends[0], **id) && open_at(c.ends[1], **id))
            .map(|(_, c)| (c.ends[0].min(c.ends[1]), c.ends[0].max(c.ends[1])))
            .collect();
        wanted.iter().all(|l| connected.contains(l))
            && self.nodes.iter().filter_map(|n| n.core.as_ref()).all(|core| {
                let st = core.status();
                st.peers.iter().all(|p| p.up_to_date) && st.docs_pending == 0
            })
    }

    /// Links that should be up: both ends running, admitted by each other, not cut.
    fn wanted_links(&self) -> BTreeSet<(usize, usize)> {
        let mut out = BTreeSet::new();
        for a in 0..self.nodes.len() {
            for b in (a + 1)..self.nodes.len() {
                if self.cut.contains(&(a, b)) || self.nodes[a].rogue || self.nodes[b].rogue {
                    continue;
                }
                let (Some(ca), Some(cb)) = (&self.nodes[a].core, &self.nodes[b].core) else {
                    continue;
                };
                let ok_a = ca.admission_of(&self.nodes[b].id) == Admission::Admit;
                let ok_b = cb.admission_of(&self.nodes[a].id) == Admission::Admit;
                if ok_a && ok_b {
                    out.insert((a, b));
                }
            }
        }
        out
    }

    /// Processes the next event before `until`; false when none is left.
    fn step(&mut self, until: Instant) -> bool {
        if self.now >= self.next_dial {
            self.next_dial = self.now.plus_ms(self.cfg.dial_interval_ms);
            self.dial_missing();
        }
        let timer = self.next_timer();
        let next_event = self.queue.keys().next().map(|(t, _)| *t);
        let next = match (next_event, timer) {
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
            if let Some(core) = self.nodes[idx].core.as_mut() {
                core.handle_timeout(now);
            }
            self.pump(idx);
            return true;
        }
        let Some((_, event)) = self.queue.pop_first() else {
            return false;
        };
        self.handle_event(event);
        true
    }

    fn next_timer(&self) -> Option<(Instant, usize)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.core.as_ref().and_then(|c| c.poll_timeout()).map(|t| (t, i)))
            .min()
    }

    fn schedule(&mut self, at: Instant, event: SimEvent) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn handle_event(&mut self, event: SimEvent) {
        match event {
            SimEvent::Packet { conn, to, seq, bytes } => self.receive_packet(conn, to, seq, bytes),
            SimEvent::Io {
                node,
                epoch,
                id,
                action,
            } => {
                if self.nodes[node].epoch != epoch || !self.nodes[node].is_up() {
                    return; // lost in a crash
                }
                let result = self.perform_io(node, &action);
                if let Some((doc, key)) = self.nodes[node].task_edits.remove(&id)
                    && result == IoResult::Done
                {
                    self.nodes[node].acked.insert((doc, key));
                }
                let now = self.now;
                if let Some(core) = self.nodes[node].core.as_mut() {
                    core.handle_io_result(now, id, result);
                }
                self.pump(node);
            }
            SimEvent::Closed {
                conn,
                node,
                epoch,
                code,
            } => {
                if self.nodes[node].epoch != epoch {
                    return;
                }
                let now = self.now;
                if let Some(core) = self.nodes[node].core.as_mut() {
                    core.handle_connection_closed(now, conn, code);
                }
                self.pump(node);
            }
            SimEvent::Dial { from, epoch, to } => {
                if self.nodes[from].epoch != epoch || !self.nodes[from].is_up() {
                    return; // the node that asked crashed meanwhile
                }
                let pair = (from.min(to), from.max(to));
                if !self.nodes[to].is_up() || self.cut.contains(&pair) {
                    // No answer: the dial times out.
                    let at = self.now.plus_ms(DIAL_TIMEOUT_MS);
                    self.schedule(at, SimEvent::DialFailed { from, epoch, to });
                    return;
                }
                self.connect(from, to);
                // Fault: the peer dials us at the same moment (a restart, an mDNS sighting), which
                // exercises the duplicate-session tie-break (HS-TRANSPORT-3).
                let admits = self.nodes[to]
                    .core
                    .as_ref()
                    .is_some_and(|c| c.admission_of(&self.nodes[from].id) == Admission::Admit);
                if admits && self.rng.chance(self.cfg.crossing_dials) {
                    self.connect(to, from);
                }
            }
            SimEvent::DialFailed { from, epoch, to } => {
                if self.nodes[from].epoch != epoch {
                    return;
                }
                let (now, peer) = (self.now, self.nodes[to].id);
                if let Some(core) = self.nodes[from].core.as_mut() {
                    core.handle_dial_failed(now, peer);
                }
                self.pump(from);
            }
        }
    }

    fn perform_io(&mut self, node: usize, action: &IoAction) -> IoResult {
        match action {
            IoAction::LoadDoc { doc } => self.nodes[node].store.load(doc),
            IoAction::SaveDoc {
                doc,
                write,
                meta,
                sync_states,
            } => {
                self.nodes[node]
                    .store
                    .save(doc, write.as_ref(), meta, sync_states);
                IoResult::Done
            }
            IoAction::DeleteDoc { doc } => {
                self.nodes[node].store.delete(doc);
                IoResult::Done
            }
            IoAction::SaveCursors { cursors } => {
                self.nodes[node].store.cursors = cursors.clone();
                IoResult::Done
            }
            IoAction::SaveBlobAges { ages } => {
                self.nodes[node].store.blob_ages = ages.clone();
                IoResult::Done
            }
            IoAction::ReleaseBlob { hash } => {
                self.nodes[node].store.blobs.remove(hash);
                IoResult::Done
            }
            IoAction::FetchBlob { hash, from } => {
                // HS-BLOB-3: the provider serves only peers its own gate admits, over a live link.
                let Some(src) = self.nodes.iter().position(|n| n.id == *from) else {
                    return IoResult::Failed {
                        reason: "unknown peer".into(),
                    };
                };
                let linked = self
                    .conns
                    .values()
                    .any(|c| c.alive && (c.ends == [node, src] || c.ends == [src, node]));
                let admitted = self.nodes[src]
                    .core
                    .as_ref()
                    .is_some_and(|c| c.admission_of(&self.nodes[node].id) == Admission::Admit);
                if linked && admitted && self.nodes[src].store.blobs.contains(hash) {
                    self.nodes[node].store.blobs.insert(*hash);
                    IoResult::Done
                } else {
                    IoResult::Failed {
                        reason: "peer cannot serve the blob".into(),
                    }
                }
            }
        }
    }

    /// Drains a node's outputs into the network, the disk and the app.
    fn pump(&mut self, idx: usize) {
        loop {
            let Some(core) = self.nodes[idx].core.as_mut() else {
                return;
            };
            let Some(output) = core.poll_output() else { return };
            match output {
                Output::Transmit { conn, bytes } => self.transmit(idx, conn, bytes),
                Output::Close { conn, code } => self.kill_conn(conn, code),
                Output::DisconnectPeer { peer, .. } => {
                    let conns: Vec<ConnId> = self
                        .conns
                        .iter()
                        .filter(|(_, c)| {
                            c.alive
                                && c.ends.contains(&idx)
                                && c.ends.iter().any(|e| self.nodes[*e].id == peer)
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    for conn in conns {
                        self.kill_conn(conn, CloseCode::REVOKED);
                    }
                }
                Output::Io(task) => {
                    let delay = self.rng.between(self.cfg.io_ms.0, self.cfg.io_ms.1);
                    let at = self.nodes[idx].io_free_at.max(self.now).plus_ms(delay);
                    self.nodes[idx].io_free_at = at;
                    let epoch = self.nodes[idx].epoch;
                    self.schedule(
                        at,
                        SimEvent::Io {
                            node: idx,
                            epoch,
                            id: task.id,
                            action: task.action,
                        },
                    );
                }
                Output::Dial { peer } => {
                    self.dials += 1;
                    if let Some(to) = self.nodes.iter().position(|n| n.id == peer) {
                        let at = self
                            .now
                            .plus_ms(self.rng.between(self.cfg.latency_ms.0, self.cfg.latency_ms.1));
                        let epoch = self.nodes[idx].epoch;
                        self.schedule(at, SimEvent::Dial { from: idx, epoch, to });
                    }
                }
                // The simulation asks the core itself (`admission_of`): the same view, the same `admit`.
                Output::Gate(_) => {}
                Output::Event(event) => self.app_event(idx, event),
            }
        }
    }

    fn app_event(&mut self, idx: usize, event: Event) {
        if let Event::DocReady(doc) = &event {
            let edits: Vec<PendingEdit> = std::mem::take(&mut self.nodes[idx].pending_edits);
            let (ready, rest): (Vec<_>, Vec<_>) = edits.into_iter().partition(|e| &e.doc == doc);
            self.nodes[idx].pending_edits = rest;
            for e in ready {
                self.apply_edit(idx, &e.doc, &e.key);
            }
        }
        if let Event::DocNotFound(doc) = &event {
            self.nodes[idx].pending_edits.retain(|e| &e.doc != doc);
        }
    }

    fn transmit(&mut self, from: usize, conn: ConnId, bytes: Vec<u8>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.alive {
            return;
        }
        let side = if c.ends[0] == from { 0 } else { 1 };
        let to = c.ends[1 - side];
        // Gating invariant (HS-GATE-3/4): never send to a peer our own registry does not admit.
        let sender_admits = self.nodes[from]
            .core
            .as_ref()
            .map(|c| c.admission_of(&self.nodes[to].id));
        if sender_admits.is_some_and(|a| a != Admission::Admit) {
            self.violations.push(format!(
                "seed {} t={}: {} sent {} bytes to non-admitted {}",
                self.seed,
                self.now.0,
                self.nodes[from].name,
                bytes.len(),
                self.nodes[to].name
            ));
        }
        if self.cfg.transcript {
            let c = self.conns.get_mut(&conn).map(|c| &mut c.decoders[side]);
            if let Some(decoder) = c {
                decoder.push(&bytes);
                while let Ok(Some(msg)) = decoder.next_message() {
                    let line = format!(
                        "t={} {}->{} {}",
                        self.now.0,
                        self.nodes[from].name,
                        self.nodes[to].name,
                        summarize(&msg)
                    );
                    self.transcript.push(line);
                }
            }
        }
        for chunk in bytes.chunks(self.cfg.max_chunk.max(1)) {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let seq = c.next_seq[side];
            c.next_seq[side] += 1;
            let mut at = self
                .now
                .plus_ms(self.rng.between(self.cfg.latency_ms.0, self.cfg.latency_ms.1));
            while self.rng.chance(self.cfg.loss) {
                at = at.plus_ms(self.cfg.rto_ms);
            }
            self.schedule(
                at,
                SimEvent::Packet {
                    conn,
                    to,
                    seq,
                    bytes: chunk.to_vec(),
                },
            );
            if self.rng.chance(self.cfg.duplicate) {
                let dup_at = at.plus_ms(self.rng.between(0, self.cfg.latency_ms.1));
                self.schedule(
                    dup_at,
                    SimEvent::Packet {
                        conn,
                        to,
                        seq,
                        bytes: chunk.to_vec(),
                    },
                );
            }
        }
    }

    /// The transport side of a packet: drop duplicates, reassemble in order, hand bytes to the core.
    fn receive_packet(&mut self, conn: ConnId, to: usize, seq: u64, bytes: Vec<u8>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.alive {
            return;
        }
        let side = if c.ends[0] == to { 0 } else { 1 };
        let rx = 1 - side; // stream index is the sender's side
        if seq < c.expect[rx] || c.reorder[rx].contains_key(&seq) {
            return; // duplicate
        }
        c.reorder[rx].insert(seq, bytes);
        c.last_arrival[side] = self.now;
        let mut ready = Vec::new();
        while let Some(chunk) = c.reorder[rx].remove(&c.expect[rx]) {
            c.expect[rx] += 1;
            ready.extend_from_slice(&chunk);
        }
        if ready.is_empty() {
            return;
        }
        let from = c.ends[rx];
        let now = self.now;
        let peer_id = self.nodes[from].id;
        let node = &mut self.nodes[to];
        node.bytes_received += ready.len() as u64;
        let Some(core) = node.core.as_mut() else { return };
        // Gating invariant: a core with a live session never accepts bytes from a non-admitted peer.
        if core.session_stats(conn).is_some() && core.admission_of(&peer_id) != Admission::Admit {
            self.violations.push(format!(
                "seed {} t={}: {} accepted bytes from non-admitted {}",
                self.seed, now.0, self.nodes[to].name, self.nodes[from].name
            ));
        }
        if let Some(core) = self.nodes[to].core.as_mut() {
            core.handle_bytes(now, conn, &ready);
        }
        self.pump(to);
        self.check_registry_monotonic(to);
    }

    fn kill_conn(&mut self, conn: ConnId, code: CloseCode) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.alive {
            return;
        }
        c.alive = false;
        if code == CloseCode::DUPLICATE {
            self.duplicate_closes += 1;
        }
        let ends = c.ends;
        let epochs = c.epochs;
        self.queue
            .retain(|_, e| !matches!(e, SimEvent::Packet { conn: id, .. } if *id == conn));
        for (side, node) in ends.iter().enumerate() {
            let at = self.now.plus_ms(self.cfg.latency_ms.0);
            self.schedule(
                at,
                SimEvent::Closed {
                    conn,
                    node: *node,
                    epoch: epochs[side],
                    code,
                },
            );
        }
    }

    /// Rogue nodes (attackers, never paired) dial every running node they are not connected to.
    /// Registered nodes dial only what their core asks for ([`Output::Dial`]).
    fn dial_missing(&mut self) {
        let connected: BTreeSet<(usize, usize)> = self
            .conns
            .values()
            .filter(|c| c.alive)
            .map(|c| (c.ends[0].min(c.ends[1]), c.ends[0].max(c.ends[1])))
            .collect();
        let mut dials = Vec::new();
        for a in 0..self.nodes.len() {
            if !self.nodes[a].rogue || !self.nodes[a].is_up() {
                continue;
            }
            for b in 0..self.nodes.len() {
                let pair = (a.min(b), a.max(b));
                if a == b || connected.contains(&pair) || self.cut.contains(&pair) || !self.nodes[b].is_up() {
                    continue;
                }
                dials.push((a, b));
            }
        }
        for (a, b) in dials {
            self.connect(a, b);
        }
    }

    /// Opens a connection from `a` to `b`: both gates decide after the (simulated) TLS handshake.
    pub fn connect(&mut self, a: usize, b: usize) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(
            conn,
            SimConn {
                ends: [a, b],
                epochs: [self.nodes[a].epoch, self.nodes[b].epoch],
                alive: true,
                next_seq: [0, 0],
                expect: [0, 0],
                reorder: [BTreeMap::new(), BTreeMap::new()],
                last_arrival: [self.now, self.now],
                decoders: [FrameDecoder::new(), FrameDecoder::new()],
            },
        );
        // The acceptor's gate decides first, then the dialer's (both after the TLS handshake).
        if self.open_side(b, a, conn, Role::Acceptor) {
            self.open_side(a, b, conn, Role::Dialer);
        } else {
            // The refusal wins the race with the handshake: the dial fails (HS-GATE-7).
            let (epoch, at) = (self.nodes[a].epoch, self.now.plus_ms(self.cfg.latency_ms.0));
            self.schedule(
                at,
                SimEvent::DialFailed {
                    from: a,
                    epoch,
                    to: b,
                },
            );
        }
    }

    /// Hands a new connection to `node`'s core; on refusal closes it. Returns whether admitted.
    fn open_side(&mut self, node: usize, peer: usize, conn: ConnId, role: Role) -> bool {
        let (now, peer_id) = (self.now, self.nodes[peer].id);
        let verdict = match self.nodes[node].core.as_mut() {
            Some(core) => core.handle_connection(now, conn, peer_id, role),
            None => Admission::Reject(CloseCode::INTERNAL),
        };
        if let Admission::Reject(code) = verdict {
            self.kill_conn(conn, code);
            return false;
        }
        self.pump(node);
        true
    }

    /// HS-REG-4: a node's set of revoked devices never shrinks.
    fn check_registry_monotonic(&mut self, idx: usize) {
        let Some(core) = self.nodes[idx].core.as_ref() else {
            return;
        };
        let now: BTreeSet<_> = core
            .registry()
            .devices()
            .filter(|(_, s)| s.revoked_at_ms.is_some())
            .map(|(d, _)| *d)
            .collect();
        if !now.is_superset(&self.revoked_seen[idx]) {
            self.violations.push(format!(
                "seed {} t={}: {} forgot a revocation",
                self.seed, self.now.0, self.nodes[idx].name
            ));
        }
        self.revoked_seen[idx] = now;
    }

    /// Checks convergence among the running, admitted nodes: same documents with the same digests,
    /// same `_devices`, and every acknowledged edit present in every copy of a live document.
    pub fn check_converged(&self, members: &[usize]) -> Result<(), String> {
        let authors: Vec<&SimNode> = members.iter().map(|&i| &self.nodes[i]).collect();
        let seed = self.seed;
        let mut docs: BTreeSet<DocId> = BTreeSet::new();
        for &i in members {
            let core = self.nodes[i]
                .core
                .as_ref()
                .ok_or(format!("seed {seed}: {} is down", self.nodes[i].name))?;
            docs.extend(self.nodes[i].store.docs.keys().cloned());
            let _ = core;
        }
        for doc in &docs {
            let digests: Vec<_> = members
                .iter()
                .map(|&i| self.nodes[i].core.as_ref().and_then(|c| c.digest(doc)))
                .collect();
            if digests.windows(2).any(|w| w[0] != w[1]) {
                let names: Vec<_> = members.iter().map(|&i| &self.nodes[i].name).collect();
                return Err(format!(
                    "seed {seed}: {doc} differs across {names:?}: {digests:?}"
                ));
            }
        }
        for node in authors {
            for (doc, key) in &node.acked {
                for &i in members {
                    let stored = self.nodes[i].store.docs.get(doc);
                    let Some(stored) = stored else {
                        return Err(format!(
                            "seed {seed}: {} lacks {doc} (edit {key} by {})",
                            self.nodes[i].name, node.name
                        ));
                    };
                    if stored.meta.tombstone {
                        continue; // deleted for good: the deletion wins (HS-DOC-5)
                    }
                    let am = crate::untrusted::load(&stored.bytes).map_err(|e| {
                        format!(
                            "seed {seed}: {} stored {doc} does not load: {e}",
                            self.nodes[i].name
                        )
                    })?;
                    if am.get(automerge::ROOT, key.as_str()).ok().flatten().is_none() {
                        return Err(format!(
                            "seed {seed}: {} lost edit {key} on {doc} (acknowledged by {})",
                            self.nodes[i].name, node.name
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Sum of bytes and frames sent by every core so far.
    pub fn traffic(&self) -> (u64, u64) {
        let mut bytes = 0;
        let mut frames = 0;
        for node in &self.nodes {
            if let Some(core) = &node.core {
                for p in core.status().peers {
                    bytes += p.stats.bytes_out;
                    frames += p.stats.frames_out;
                }
            }
        }
        (bytes, frames)
    }

    /// [`Sim::describe_state`] plus the last 40 transcript lines, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = self.describe_state();
        let tail = self.transcript.len().saturating_sub(40);
        for line in &self.transcript[tail..] {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// A readable dump of every node's sessions and pending work.
    pub fn describe_state(&self) -> String {
        let mut out = format!("seed {} t={} queue={}\n", self.seed, self.now.0, self.queue.len());
        for node in &self.nodes {
            let Some(core) = &node.core else {
                out.push_str(&format!("  {}: down\n", node.name));
                continue;
            };
            let st = core.status();
            out.push_str(&format!(
                "  {}: docs={} pending={} blobs_missing={} registry={} records anchor={:?}\n",
                node.name,
                st.docs,
                st.docs_pending,
                st.blobs_missing,
                core.registry().records().count(),
                core.registry()
                    .anchor()
                    .map(|a| self.nodes.iter().position(|n| n.id == a))
            ));
            for p in st.peers {
                let peer = self
                    .nodes
                    .iter()
                    .find(|n| n.id == p.peer)
                    .map(|n| n.name.as_str())
                    .unwrap_or("?");
                out.push_str(&format!(
                    "    {:?} {peer}: open={} reconciled={} up_to_date={} outstanding={} {}\n",
                    p.conn,
                    p.open,
                    p.reconciled,
                    p.up_to_date,
                    p.outstanding,
                    core.describe_session(p.conn)
                ));
            }
        }
        out
    }

    /// Edits of `doc` visible in node `idx`'s durable copy (keys of the root map).
    pub fn stored_keys(&self, idx: usize, doc: &DocId) -> Vec<String> {
        let Some(stored) = self.nodes[idx].store.docs.get(doc) else {
            return Vec::new();
        };
        let Ok(am) = crate::untrusted::load(&stored.bytes) else {
            return Vec::new();
        };
        am.keys(automerge::ROOT).collect()
    }

    /// Draws from the simulation's RNG (for workload generators).
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }
}

fn short_hashes(hashes: &[automerge::ChangeHash]) -> String {
    let parts: Vec<String> = hashes.iter().map(|h| h.to_string()[..6].to_owned()).collect();
    format!("[{}]", parts.join(" "))
}

/// A one-line summary of a message for transcripts.
pub fn summarize(msg: &humansync_protocol::Message) -> String {
    use humansync_protocol::{Message, RangeMode};
    match msg {
        Message::Hello { versions, set, .. } => format!("Hello{{versions:{versions:?}, docs:{}}}", set.count),
        Message::Welcome { version, set, .. } => format!("Welcome{{version:{version}, docs:{}}}", set.count),
        Message::Reconcile { ranges } => {
            let parts: Vec<String> = ranges
                .iter()
                .map(|r| match &r.mode {
                    RangeMode::Skip => "skip".to_owned(),
                    RangeMode::Fingerprint { count, .. } => format!("fp({count})"),
                    RangeMode::Items(items) => format!("items({})", items.len()),
                })
                .collect();
            format!("Reconcile[{}]", parts.join(","))
        }
        Message::DocSync { doc, message } => match crate::untrusted::decode_sync_message(message) {
            Ok(m) => format!(
                "DocSync{{{doc}, {} B, heads:{}, need:{}, have:{}, changes:{}}}",
                message.len(),
                short_hashes(&m.heads),
                short_hashes(&m.need),
                m.have
                    .iter()
                    .map(|h| short_hashes(&h.last_sync))
                    .collect::<Vec<_>>()
                    .join("|"),
                m.changes.len()
            ),
            Err(_) => format!("DocSync{{{doc}, {} B, undecodable}}", message.len()),
        },
        Message::DocWhole { doc, bytes, .. } => format!("DocWhole{{{doc}, {} B}}", bytes.len()),
        Message::DocWant { docs } => format!("DocWant{{{}}}", docs.len()),
        Message::DocMissing { doc } => format!("DocMissing{{{doc}}}"),
        Message::DocDeleted { doc } => format!("DocDeleted{{{doc}}}"),
        Message::BlobWant { hashes } => format!("BlobWant{{{}}}", hashes.len()),
        Message::BlobHave { hashes } => format!("BlobHave{{{}}}", hashes.len()),
        Message::Close { code, reason } => format!("Close{{{code}, {reason:?}}}"),
        Message::Resume { cursor } => match cursor {
            Some(c) => format!("Resume{{seq:{}}}", c.seq),
            None => "Resume{none}".to_owned(),
        },
        Message::Resumed { complete } => format!("Resumed{{complete:{complete}}}"),
        Message::DocChanges { doc, bytes } => format!("DocChanges{{{doc}, {} B}}", bytes.len()),
        Message::Synced { cursor, set } => format!("Synced{{seq:{}, docs:{}}}", cursor.seq, set.count),
    }
}
