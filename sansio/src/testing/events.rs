//! The simulation's event queue: everything that happens later — a packet arriving, a disk
//! task completing, a close reaching a node, a dial landing or failing — ordered by time and
//! then by when it was scheduled, so that equal times replay in the same order.

use std::collections::BTreeMap;

use humansync_protocol::CloseCode;

use crate::{ConnId, Instant, IoAction, IoTaskId};

/// Something that happens at a scheduled time.
#[derive(Debug)]
pub(crate) enum SimEvent {
    /// A chunk of stream bytes reaches node `to`.
    Packet {
        conn: ConnId,
        to: usize,
        seq: u64,
        bytes: Vec<u8>,
    },
    /// A disk task of `node` (in its life `epoch`) completes.
    Io {
        node: usize,
        epoch: u64,
        id: IoTaskId,
        action: IoAction,
    },
    /// Node `node` learns that `conn` closed with `code`.
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

/// Pending events by (time, schedule order).
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    events: BTreeMap<(Instant, u64), SimEvent>,
    seq: u64,
}

impl EventQueue {
    /// Schedules `event` at `at` (after every event already scheduled for the same time).
    pub(crate) fn schedule(&mut self, at: Instant, event: SimEvent) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    /// When the earliest event is due.
    pub(crate) fn next_at(&self) -> Option<Instant> {
        self.events.keys().next().map(|(t, _)| *t)
    }

    /// Removes and returns the earliest event.
    pub(crate) fn pop(&mut self) -> Option<SimEvent> {
        self.events.pop_first().map(|(_, e)| e)
    }

    /// Drops every packet still in flight on `conn`.
    pub(crate) fn drop_packets(&mut self, conn: ConnId) {
        self.events
            .retain(|_, e| !matches!(e, SimEvent::Packet { conn: id, .. } if *id == conn));
    }

    /// Pending events, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SimEvent> {
        self.events.values()
    }

    /// How many events are pending.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}
