//! Protocol version 3: one cumulative acknowledgement of received documents (HS-SYNC-14).
//!
//! Versions 1 and 2 acknowledge every DocWhole and DocChanges with a DocSync of its own (the
//! heads twice and the document id, ≈ 110 bytes with a note's id), so a resume that brings k
//! changed documents cost k acknowledgements — more than the DocChanges' own framing — and,
//! interleaved with the DocChanges still arriving, made the exchange look like k round trips.
//! On a version-3 session the receiver counts the DocWhole and DocChanges messages it receives
//! (the n-th one of the session is number n) and sends `Held{count}` — the first `count` of them
//! are stored or merged here, or answered otherwise (DocDeleted, DocWant, a sync of missing
//! dependencies) — instead of the bare acknowledgement. A message waiting for its document to
//! load holds the count back until it is applied, so the count only ever covers messages handled
//! in order. The sender numbers what it sends the same way and takes `Held{count}` as the
//! acknowledgement of every document whose latest DocWhole or DocChanges has a number up to
//! `count` (HS-SYNC-7).
//!
//! ```text
//!  sender                                   receiver
//!    | -- DocChanges #1 .. #k, Resumed -------> |  appended / merged, in order
//!    | <----------------------- Held{k} ------- |  once per input handled, or after Resumed
//! ```
//!
//! `Held` goes out at the end of the input that advanced the count (a chunk of frames, a finished
//! load), so a burst of documents read together is acknowledged once. While the peer's answer to
//! our `Resume` is still arriving it waits for the peer's `Resumed`: one `Held` acknowledges the
//! whole answer.

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::{DocId, Message, V3};

use super::Core;
use super::session::SyncPhase;
use crate::fault::PeerFault;
use crate::{ConnId, Instant};

/// A session's cumulative acknowledgements, both ways (HS-SYNC-14).
#[derive(Debug, Default)]
pub(crate) struct HeldCount {
    /// DocWhole and DocChanges messages received on this session.
    received: u64,
    /// Numbers of received messages waiting for their document to load.
    waiting: BTreeSet<u64>,
    /// The count in the last `Held` sent.
    told: u64,
    /// DocWhole and DocChanges messages sent on this session.
    sent: u64,
    /// Documents sent and not yet covered by a `Held`, by the number of their latest message.
    outstanding: BTreeMap<u64, DocId>,
    /// The number of each such document's latest message.
    latest: BTreeMap<DocId, u64>,
    /// The count in the last `Held` received.
    peer_count: u64,
}

impl HeldCount {
    /// The count this end may acknowledge: every message received up to the first that is
    /// still waiting for a load.
    fn handled(&self) -> u64 {
        self.waiting
            .first()
            .map_or(self.received, |first| first.saturating_sub(1))
    }

    /// Whether a `Held` with a higher count than the last one is owed to the peer.
    pub(crate) fn owes(&self) -> bool {
        self.handled() > self.told
    }
}

impl Core {
    /// Whether the session on `conn` acknowledges with `Held` (version 3).
    pub(crate) fn uses_held(&self, conn: ConnId) -> bool {
        self.sessions.get(&conn).is_some_and(|s| s.version() >= V3)
    }

    /// Numbers a DocWhole or DocChanges just received on `conn`; returns its number on a
    /// version-3 session.
    pub(crate) fn count_received(&mut self, conn: ConnId) -> Option<u64> {
        if !self.uses_held(conn) {
            return None;
        }
        let s = self.sessions.get_mut(&conn)?;
        s.held.received += 1;
        Some(s.held.received)
    }

    /// The received message numbered `seq` waits for its document to load: the count stops
    /// before it until [`Core::held_done`].
    pub(crate) fn held_waits(&mut self, conn: ConnId, seq: Option<u64>) -> Option<u64> {
        if let (Some(seq), Some(s)) = (seq, self.sessions.get_mut(&conn)) {
            s.held.waiting.insert(seq);
        }
        seq
    }

    /// The received message numbered `seq`, which waited for a load, is handled.
    pub(crate) fn held_done(&mut self, conn: ConnId, seq: Option<u64>) {
        if let (Some(seq), Some(s)) = (seq, self.sessions.get_mut(&conn)) {
            s.held.waiting.remove(&seq);
        }
    }

    /// Numbers a DocWhole or DocChanges sent on `conn` (a version-3 session): outstanding until a
    /// `Held` covers it.
    pub(crate) fn count_sent(&mut self, conn: ConnId, msg: &Message) {
        let doc = match msg {
            Message::DocWhole { doc, .. } | Message::DocChanges { doc, .. } => doc,
            _ => return,
        };
        if !self.uses_held(conn) {
            return;
        }
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        s.held.sent += 1;
        let seq = s.held.sent;
        if let Some(previous) = s.held.latest.insert(doc.clone(), seq) {
            s.held.outstanding.remove(&previous);
        }
        s.held.outstanding.insert(seq, doc.clone());
    }

    /// Sends the `Held` owed on every version-3 session, unless the peer's answer to our Resume
    /// is still arriving (its `Resumed` flushes it). Called at the end of each input.
    pub(crate) fn flush_held(&mut self, now: Instant) {
        let owed: Vec<ConnId> = self
            .sessions
            .values()
            .filter(|s| s.is_open() && s.held.owes())
            .filter(|s| !matches!(s.phase, SyncPhase::Resuming { theirs: None, .. }))
            .map(|s| s.conn)
            .collect();
        for conn in owed {
            self.send_held(now, conn);
        }
    }

    /// Sends the `Held` owed on `conn`, if any.
    pub(crate) fn send_held(&mut self, now: Instant, conn: ConnId) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if !s.held.owes() {
            return;
        }
        let count = s.held.handled();
        s.held.told = count;
        self.send(conn, &Message::Held { count });
        self.check_settled(now, conn);
    }

    /// The peer holds the first `count` DocWhole and DocChanges messages we sent on `conn`
    /// (HS-SYNC-14): each document whose latest one is among them is delivered (HS-SYNC-7).
    pub(crate) fn handle_held(&mut self, now: Instant, conn: ConnId, count: u64) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if count > s.held.sent || count < s.held.peer_count {
            self.close_session(now, conn, PeerFault::BadHeldCount(count));
            return;
        }
        s.held.peer_count = count;
        while let Some(entry) = s.held.outstanding.first_entry() {
            if *entry.key() > count {
                break;
            }
            let doc = entry.remove();
            s.held.latest.remove(&doc);
            s.unacked.remove(&doc);
        }
        self.check_settled(now, conn);
    }
}
