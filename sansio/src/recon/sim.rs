//! A two-party driver that runs reconciliation to its end (feature `testing`).
//!
//! It stands in for two sessions exchanging Reconcile messages over a
//! lossless, in-order stream, with both sets frozen for the whole exchange
//! (the actions are collected, not applied). Used by this crate's tests and
//! by the conformance runner.

use humansync_protocol::{EncodeError, Message, RangeEntry};

use super::{DocSet, ReconAction, ReconError, initiate, respond};

/// Which side sent a message; A is the dialer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The dialer: it compares the summaries and sends the first Reconcile.
    A,
    /// The acceptor.
    B,
}

/// Everything that happened in one reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Every Reconcile sent, in order, with its sender and encoded size in bytes.
    pub messages: Vec<(Side, Vec<RangeEntry>, usize)>,
    /// Actions found by the dialer.
    pub actions_a: Vec<ReconAction>,
    /// Actions found by the acceptor.
    pub actions_b: Vec<ReconAction>,
}

impl Transcript {
    /// Total encoded bytes of all Reconcile messages (frame headers excluded).
    pub fn bytes(&self) -> usize {
        self.messages.iter().map(|(_, _, n)| n).sum()
    }

    /// Round trips: messages / 2, rounded up (the Hello / Welcome round trip not counted).
    pub fn round_trips(&self) -> usize {
        self.messages.len().div_ceil(2)
    }
}

/// Why a simulated reconciliation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// A side rejected the other's message.
    #[error("{0:?} rejected a Reconcile: {1}")]
    Rejected(Side, ReconError),
    /// A side built a message a conforming peer would reject.
    #[error("{0:?} built an unencodable Reconcile: {1}")]
    Unencodable(Side, EncodeError),
    /// The message did not survive an encode / decode round trip.
    #[error("{0:?} built a Reconcile that does not decode to itself")]
    RoundTrip(Side),
    /// No final message after this many messages.
    #[error("no end of reconciliation after {0} messages")]
    NotConverged(usize),
}

/// Runs reconciliation between dialer `a` and acceptor `b` (HS-RECON-1..5):
/// nothing when their summaries are equal, else `initiate(a)` and then
/// `respond` back and forth until a side receives the all-Skip message.
/// Every message is encoded and decoded on the way.
pub fn run(a: &DocSet, b: &DocSet, max_messages: usize) -> Result<Transcript, SimError> {
    let mut transcript = Transcript::default();
    if a.summary() == b.summary() {
        return Ok(transcript);
    }
    let mut outgoing = initiate(a);
    let mut sender = Side::A;
    loop {
        if transcript.messages.len() == max_messages {
            return Err(SimError::NotConverged(max_messages));
        }
        let msg = Message::Reconcile { ranges: outgoing };
        let bytes = msg.encode().map_err(|e| SimError::Unencodable(sender, e))?;
        let decoded = Message::decode(&bytes).map_err(|_| SimError::RoundTrip(sender))?;
        let Message::Reconcile { ranges } = decoded else {
            return Err(SimError::RoundTrip(sender));
        };
        if (Message::Reconcile {
            ranges: ranges.clone(),
        }) != msg
        {
            return Err(SimError::RoundTrip(sender));
        }
        let (receiver, set) = match sender {
            Side::A => (Side::B, b),
            Side::B => (Side::A, a),
        };
        let response = respond(set, &ranges).map_err(|e| SimError::Rejected(receiver, e))?;
        transcript.messages.push((sender, ranges, bytes.len()));
        match receiver {
            Side::A => transcript.actions_a.extend(response.actions),
            Side::B => transcript.actions_b.extend(response.actions),
        }
        match response.reply {
            Some(reply) => outgoing = reply,
            None => return Ok(transcript),
        }
        sender = receiver;
    }
}
