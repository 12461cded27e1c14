//! What a runtime's transport does around the core, in the simulation: dials and the gate
//! after the (simulated) TLS handshake, streams between cores over the network model, closes,
//! and blob fetches from a peer (HS-BLOB-3). The gate invariants are checked on every byte.

use humansync_protocol::CloseCode;

use super::events::SimEvent;
use crate::gate::Admission;
use crate::{ConnId, IoAction, IoResult, Role};

impl super::Sim {
    /// Hands what `from`'s core sent on `conn` to the network (and the transcript).
    pub(crate) fn transmit(&mut self, from: usize, conn: ConnId, bytes: Vec<u8>) {
        let Some((side, to)) = self.net.route(conn, from) else {
            return;
        };
        self.check_send_admitted(from, to, bytes.len());
        if self.cfg.transcript {
            self.record(conn, side, from, to, &bytes);
        }
        let (now, cfg) = (self.now, &self.cfg);
        self.net
            .send(conn, side, to, &bytes, now, cfg, &mut self.rng, &mut self.queue);
    }

    /// A packet arrives: the network reassembles the stream, the receiving core gets the bytes.
    pub(crate) fn receive_packet(&mut self, conn: ConnId, to: usize, seq: u64, bytes: Vec<u8>) {
        let now = self.now;
        let Some((from, ready)) = self.net.receive(conn, to, seq, bytes, now) else {
            return;
        };
        self.nodes[to].bytes_received += ready.len() as u64;
        if !self.nodes[to].is_up() {
            return;
        }
        self.check_accept_admitted(conn, from, to);
        if let Some(core) = self.nodes[to].host.core.as_mut() {
            core.handle_bytes(now, conn, &ready);
        }
        self.pump(to);
        self.check_registry_monotonic(to);
    }

    /// Closes a connection at both ends (each end hears of it one minimum latency later).
    pub(crate) fn kill_conn(&mut self, conn: ConnId, code: CloseCode) {
        let Some((ends, epochs)) = self.net.close(conn) else {
            return;
        };
        if code == CloseCode::DUPLICATE {
            self.duplicate_closes += 1;
        }
        self.queue.drop_packets(conn);
        for (side, node) in ends.iter().enumerate() {
            let at = self.now.plus_ms(self.cfg.latency_ms.0);
            let (node, epoch) = (*node, epochs[side]);
            self.queue.schedule(
                at,
                SimEvent::Closed {
                    conn,
                    node,
                    epoch,
                    code,
                },
            );
        }
    }

    /// Rogue nodes (attackers, never paired) dial every running node they are not connected to.
    /// Registered nodes dial only what their core asks for ([`crate::Output::Dial`]).
    pub(crate) fn dial_missing(&mut self) {
        let connected = self.net.connected_pairs();
        let mut dials = Vec::new();
        for a in 0..self.nodes.len() {
            if !self.nodes[a].rogue || !self.nodes[a].is_up() {
                continue;
            }
            for b in 0..self.nodes.len() {
                let pair = (a.min(b), a.max(b));
                if a == b || connected.contains(&pair) || self.net.is_cut(a, b) || !self.nodes[b].is_up() {
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
        let epochs = [self.nodes[a].host.epoch, self.nodes[b].host.epoch];
        let conn = self.net.open(a, b, epochs, self.now);
        // The acceptor's gate decides first, then the dialer's (both after the TLS handshake).
        if self.open_side(b, a, conn, Role::Acceptor) {
            self.open_side(a, b, conn, Role::Dialer);
        } else {
            // The refusal wins the race with the handshake: the dial fails (HS-GATE-7).
            let (epoch, at) = (self.nodes[a].host.epoch, self.now.plus_ms(self.cfg.latency_ms.0));
            self.queue.schedule(
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
        let (now, peer_id) = (self.now, self.nodes[peer].id());
        let verdict = match self.nodes[node].host.core.as_mut() {
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

    /// A blob fetch of `node` (HS-BLOB-3): the provider serves only peers its own gate admits,
    /// over a live link.
    pub(crate) fn fetch_blob(&mut self, node: usize, action: &IoAction) -> IoResult {
        let IoAction::FetchBlob { hash, from } = action else {
            return IoResult::Failed {
                reason: "not a blob fetch".into(),
            };
        };
        let Some(src) = self.nodes.iter().position(|n| n.id() == *from) else {
            return IoResult::Failed {
                reason: "unknown peer".into(),
            };
        };
        let linked = !self.net.live_between(node, src).is_empty();
        if linked && self.admits(src, node) && self.nodes[src].host.store.blobs.contains(hash) {
            self.nodes[node].host.store.blobs.insert(*hash);
            IoResult::Done
        } else {
            IoResult::Failed {
                reason: "peer cannot serve the blob".into(),
            }
        }
    }
}
