//! The network model: connections between nodes, each a pair of reliable ordered streams over
//! a lossy, reordering, duplicating packet network (what QUIC gives the core), and the cuts
//! between nodes (partitions).
//!
//! A transmit is split into chunks of at most [`SimConfig::max_chunk`] bytes; each chunk gets a
//! seeded latency, is delayed by a retransmission timeout per loss, and may arrive twice. The
//! receiving end drops duplicates and reorders, so the core sees the stream exactly as sent.
//! [`Net`] knows nothing of cores: the simulation hands it bytes and gets bytes back.

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::FrameDecoder;

use super::config::SimConfig;
use super::events::{EventQueue, SimEvent};
use super::rng::SimRng;
use crate::{ConnId, Instant};

/// How long a dial to a node that is down or cut off takes to fail, ms.
pub(crate) const DIAL_TIMEOUT_MS: u64 = 1_000;

/// One connection: `ends[0]` dialled `ends[1]`. Stream `side` carries what `ends[side]` sends.
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

/// Every connection ever opened (closed ones stay, dead) and the cut links.
#[derive(Debug)]
pub(crate) struct Net {
    conns: BTreeMap<ConnId, SimConn>,
    next_conn: u64,
    cut: BTreeSet<(usize, usize)>,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Net {
    pub(crate) fn new() -> Net {
        Net {
            conns: BTreeMap::new(),
            next_conn: 1,
            cut: BTreeSet::new(),
        }
    }

    /// Opens a connection from `a` (in its life `epochs[0]`) to `b`.
    pub(crate) fn open(&mut self, a: usize, b: usize, epochs: [u64; 2], now: Instant) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(
            conn,
            SimConn {
                ends: [a, b],
                epochs,
                alive: true,
                next_seq: [0, 0],
                expect: [0, 0],
                reorder: [BTreeMap::new(), BTreeMap::new()],
                last_arrival: [now, now],
                decoders: [FrameDecoder::new(), FrameDecoder::new()],
            },
        );
        conn
    }

    /// Marks a live connection dead; returns its ends and their epochs (`None` if already dead).
    pub(crate) fn close(&mut self, conn: ConnId) -> Option<([usize; 2], [u64; 2])> {
        let c = self.conns.get_mut(&conn).filter(|c| c.alive)?;
        c.alive = false;
        Some((c.ends, c.epochs))
    }

    /// The sending side of `from` on a live `conn` and the node at the other end.
    pub(crate) fn route(&self, conn: ConnId, from: usize) -> Option<(usize, usize)> {
        let c = self.conns.get(&conn).filter(|c| c.alive)?;
        let side = if c.ends[0] == from { 0 } else { 1 };
        Some((side, c.ends[1 - side]))
    }

    /// The frame decoder of stream `side` of `conn` (for transcripts).
    pub(crate) fn decoder(&mut self, conn: ConnId, side: usize) -> Option<&mut FrameDecoder> {
        self.conns.get_mut(&conn).map(|c| &mut c.decoders[side])
    }

    /// Sends `bytes` on stream `side` of `conn`: schedules its chunks' arrivals at `to`.
    #[allow(clippy::too_many_arguments)] // the network's inputs: one stream, the clock, the dice
    pub(crate) fn send(
        &mut self,
        conn: ConnId,
        side: usize,
        to: usize,
        bytes: &[u8],
        now: Instant,
        cfg: &SimConfig,
        rng: &mut SimRng,
        queue: &mut EventQueue,
    ) {
        for chunk in bytes.chunks(cfg.max_chunk.max(1)) {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let seq = c.next_seq[side];
            c.next_seq[side] += 1;
            let mut at = now.plus_ms(rng.between(cfg.latency_ms.0, cfg.latency_ms.1));
            while rng.chance(cfg.loss) {
                at = at.plus_ms(cfg.rto_ms);
            }
            let bytes = chunk.to_vec();
            queue.schedule(at, SimEvent::Packet { conn, to, seq, bytes });
            if rng.chance(cfg.duplicate) {
                let dup_at = at.plus_ms(rng.between(0, cfg.latency_ms.1));
                let bytes = chunk.to_vec();
                queue.schedule(dup_at, SimEvent::Packet { conn, to, seq, bytes });
            }
        }
    }

    /// The transport side of a packet: drops duplicates, reassembles in order. Returns the
    /// sender and the bytes now ready for `to`'s core, if any.
    pub(crate) fn receive(
        &mut self,
        conn: ConnId,
        to: usize,
        seq: u64,
        bytes: Vec<u8>,
        now: Instant,
    ) -> Option<(usize, Vec<u8>)> {
        let c = self.conns.get_mut(&conn).filter(|c| c.alive)?;
        let side = if c.ends[0] == to { 0 } else { 1 };
        let rx = 1 - side; // stream index is the sender's side
        if seq < c.expect[rx] || c.reorder[rx].contains_key(&seq) {
            return None; // duplicate
        }
        c.reorder[rx].insert(seq, bytes);
        c.last_arrival[side] = now;
        let mut ready = Vec::new();
        while let Some(chunk) = c.reorder[rx].remove(&c.expect[rx]) {
            c.expect[rx] += 1;
            ready.extend_from_slice(&chunk);
        }
        (!ready.is_empty()).then_some((c.ends[rx], ready))
    }

    /// Live connections with `node` at one end, in id order.
    pub(crate) fn live_of(&self, node: usize) -> Vec<ConnId> {
        self.live()
            .filter(|(_, ends)| ends.contains(&node))
            .map(|(id, _)| id)
            .collect()
    }

    /// Live connections between `a` and `b` (either direction), in id order.
    pub(crate) fn live_between(&self, a: usize, b: usize) -> Vec<ConnId> {
        self.live()
            .filter(|(_, ends)| *ends == [a, b] || *ends == [b, a])
            .map(|(id, _)| id)
            .collect()
    }

    /// Every live connection and its ends (dialer first), in id order.
    pub(crate) fn live(&self) -> impl Iterator<Item = (ConnId, [usize; 2])> + '_ {
        self.conns
            .iter()
            .filter(|(_, c)| c.alive)
            .map(|(id, c)| (*id, c.ends))
    }

    /// The ends of `conn`, live or not.
    pub(crate) fn ends(&self, conn: ConnId) -> Option<[usize; 2]> {
        self.conns.get(&conn).map(|c| c.ends)
    }

    /// Pairs `(low, high)` with a live connection.
    pub(crate) fn connected_pairs(&self) -> BTreeSet<(usize, usize)> {
        self.live().map(|(_, e)| pair(e[0], e[1])).collect()
    }

    /// Chunks `from` has sent to `to` on live connections that `to` has not processed yet.
    pub(crate) fn undelivered(&self, from: usize, to: usize) -> u64 {
        self.conns
            .values()
            .filter(|c| c.alive)
            .filter_map(|c| {
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

    /// True while the link between `a` and `b` is cut.
    pub(crate) fn is_cut(&self, a: usize, b: usize) -> bool {
        self.cut.contains(&pair(a, b))
    }

    /// Cuts or heals the link between `a` and `b` (closing connections is the caller's part).
    pub(crate) fn set_cut(&mut self, a: usize, b: usize, cut: bool) {
        if cut {
            self.cut.insert(pair(a, b));
        } else {
            self.cut.remove(&pair(a, b));
        }
    }

    /// Heals every cut.
    pub(crate) fn heal_all(&mut self) {
        self.cut.clear();
    }
}
