//! Hosts in the simulation: how each event reaches a node's core (`handle_*`) and where each
//! output of its core goes (`poll_output` drained until empty after every input — the
//! driving contract of [`crate::Core`]).

use humansync_protocol::CloseCode;

use super::events::SimEvent;
use super::net::DIAL_TIMEOUT_MS;
use crate::Output;
use crate::gate::Admission;

impl super::Sim {
    /// Delivers one due event.
    pub(crate) fn handle_event(&mut self, event: SimEvent) {
        match event {
            SimEvent::Packet { conn, to, seq, bytes } => self.receive_packet(conn, to, seq, bytes),
            SimEvent::Io {
                node,
                epoch,
                id,
                action,
            } => {
                if self.nodes[node].host.epoch != epoch || !self.nodes[node].is_up() {
                    return; // lost in a crash
                }
                let result = match self.nodes[node].host.disk(&action) {
                    Some(result) => result,
                    None => self.fetch_blob(node, &action),
                };
                let now = self.now;
                if let Some(core) = self.nodes[node].host.core.as_mut() {
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
                if self.nodes[node].host.epoch != epoch {
                    return;
                }
                let now = self.now;
                if let Some(core) = self.nodes[node].host.core.as_mut() {
                    core.handle_connection_closed(now, conn, code);
                }
                self.pump(node);
            }
            SimEvent::Dial { from, epoch, to } => {
                if self.nodes[from].host.epoch != epoch || !self.nodes[from].is_up() {
                    return; // the node that asked crashed meanwhile
                }
                if !self.nodes[to].is_up() || self.net.is_cut(from, to) {
                    // No answer: the dial times out.
                    let at = self.now.plus_ms(DIAL_TIMEOUT_MS);
                    self.queue.schedule(at, SimEvent::DialFailed { from, epoch, to });
                    return;
                }
                self.connect(from, to);
                // Fault: the peer dials us at the same moment (a restart, an mDNS sighting), which
                // exercises the duplicate-session tie-break (HS-TRANSPORT-3).
                let admits = self.admits(to, from);
                if admits && self.rng.chance(self.cfg.crossing_dials) {
                    self.connect(to, from);
                }
            }
            SimEvent::DialFailed { from, epoch, to } => {
                if self.nodes[from].host.epoch != epoch {
                    return;
                }
                let (now, peer) = (self.now, self.nodes[to].id());
                if let Some(core) = self.nodes[from].host.core.as_mut() {
                    core.handle_dial_failed(now, peer);
                }
                self.pump(from);
            }
        }
    }

    /// True when node `node` is up and its own gate admits node `peer` right now.
    pub(crate) fn admits(&self, node: usize, peer: usize) -> bool {
        let peer_id = self.nodes[peer].id();
        self.nodes[node]
            .host
            .core
            .as_ref()
            .is_some_and(|c| c.admission_of(&peer_id) == Admission::Admit)
    }

    /// Drains a node's outputs into the network, the disk and the app.
    pub(crate) fn pump(&mut self, idx: usize) {
        loop {
            let Some(core) = self.nodes[idx].host.core.as_mut() else {
                return;
            };
            let Some(output) = core.poll_output() else { return };
            match output {
                Output::Transmit { conn, bytes } => self.transmit(idx, conn, bytes),
                Output::Close { conn, code } => self.kill_conn(conn, code),
                Output::DisconnectPeer { peer, .. } => {
                    let conns: Vec<_> = self
                        .net
                        .live_of(idx)
                        .into_iter()
                        .filter(|c| {
                            self.net
                                .ends(*c)
                                .is_some_and(|ends| ends.iter().any(|e| self.nodes[*e].id() == peer))
                        })
                        .collect();
                    for conn in conns {
                        self.kill_conn(conn, CloseCode::REVOKED);
                    }
                }
                Output::Io(task) => {
                    let delay = self.rng.between(self.cfg.io_ms.0, self.cfg.io_ms.1);
                    let at = self.nodes[idx].io_free_at.max(self.now).plus_ms(delay);
                    self.nodes[idx].io_free_at = at;
                    let epoch = self.nodes[idx].host.epoch;
                    let (id, action) = (task.id, task.action);
                    self.queue.schedule(
                        at,
                        SimEvent::Io {
                            node: idx,
                            epoch,
                            id,
                            action,
                        },
                    );
                }
                Output::Dial { peer } => {
                    self.dials += 1;
                    if let Some(to) = self.nodes.iter().position(|n| n.id() == peer) {
                        let at = self
                            .now
                            .plus_ms(self.rng.between(self.cfg.latency_ms.0, self.cfg.latency_ms.1));
                        let epoch = self.nodes[idx].host.epoch;
                        self.queue.schedule(at, SimEvent::Dial { from: idx, epoch, to });
                    }
                }
                // The simulation asks the core itself (`admission_of`): the same view, the same `admit`.
                Output::Gate(_) => {}
                // The simulated app only watches its edits' acknowledgements.
                Output::Event(_) => {}
                Output::AppDone { id, result } => self.app_done(idx, id, result),
            }
        }
    }
}
