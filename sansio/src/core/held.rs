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
//!
//! A count cannot skip a message, so a message handled by dropping it — a DocWhole from a peer
//! whose copy of the same heads already failed to load here (HS-SYNC-13), or a message that waited
//! for a load that failed — is covered too, and listed in the `Held`'s `refused`. The sender keeps
//! such a document outstanding, as version 2 did by never acknowledging it: it never reports a
//! peer up to date for a document that peer dropped. `refused` is usually empty (one byte); a
//! `Held` lists at most `MAX_HELD_REFUSED` numbers, and stops its count short of the next one.
//!
//! ```text
//!  sender                                   receiver
//!    | -- DocWhole #1 (d), DocWhole #2 (e) --> |  d refused (HS-SYNC-13), e stored
//!    | <------------ Held{2, refused: [1]} --- |
//!    |  e delivered; d still outstanding       |
//! ```

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::limits::{MAX_HELD_REFUSED, SEND_WINDOW};
use humansync_protocol::{DocId, Message, V3};

use super::Core;
use super::session::SyncPhase;
use crate::fault::PeerFault;
use crate::{ConnId, Instant};

/// A `Held` waiting for writes in flight goes out anyway once it would cover this many more
/// messages, so the sender's outstanding documents stay bounded during a long burst.
pub(crate) const HELD_BATCH: u64 = 256;

/// A session's cumulative acknowledgements, both ways (HS-SYNC-14).
#[derive(Debug, Default)]
pub(crate) struct HeldCount {
    /// DocWhole and DocChanges messages received on this session.
    received: u64,
    /// Numbers of received messages waiting for their document to load or to be durable
    /// (durable.rs).
    waiting: BTreeSet<u64>,
    /// Numbers of received messages handled by dropping them, not yet listed in a `Held`.
    refused: BTreeSet<u64>,
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

    /// Holds the count below received message `seq` until [`HeldCount::release`]; false, doing
    /// nothing, when it waits already or was refused.
    pub(crate) fn hold(&mut self, seq: u64) -> bool {
        !self.refused.contains(&seq) && self.waiting.insert(seq)
    }

    /// Received message `seq` no longer holds the count.
    pub(crate) fn release(&mut self, seq: u64) {
        self.waiting.remove(&seq);
    }

    /// Whether a `Held` with a higher count than the last one is owed to the peer.
    pub(crate) fn owes(&self) -> bool {
        self.handled() > self.told
    }

    /// Whether the `Held` owed should go now: when nothing received is still waiting, or no
    /// write is in flight here (what waits, waits for a load or a refused write), or it covers
    /// [`HELD_BATCH`] messages. While a burst's writes complete one by one, the count is told
    /// once at the end, not once per write.
    fn due(&self, writes_in_flight: bool) -> bool {
        self.owes()
            && (self.waiting.is_empty() || !writes_in_flight || self.handled() - self.told >= HELD_BATCH)
    }

    /// The next `Held` owed, and records it as told: the count handled, stopped short of the
    /// refused message that would make the list longer than `MAX_HELD_REFUSED`.
    fn next_held(&mut self) -> Message {
        let mut count = self.handled();
        if let Some(&over) = self.refused.iter().nth(MAX_HELD_REFUSED)
            && over <= count
        {
            // `over` > the `MAX_HELD_REFUSED` numbers before it, all above `told`: progress.
            count = over - 1;
        }
        let rest = self.refused.split_off(&(count + 1));
        let refused: Vec<u64> = std::mem::replace(&mut self.refused, rest).into_iter().collect();
        self.told = count;
        Message::Held { count, refused }
    }
}

/// Checks a received `Held` against the messages sent and the previous count (HS-SYNC-14):
/// `count` at most `sent` and not below `previous`; `refused` strictly ascending, each above
/// `previous` and at most `count`.
pub(crate) fn check_held(sent: u64, previous: u64, count: u64, refused: &[u64]) -> Result<(), PeerFault> {
    if count > sent || count < previous {
        return Err(PeerFault::BadHeldCount(count));
    }
    let ascending = refused.windows(2).all(|w| w[0] < w[1]);
    let in_range = refused.iter().all(|r| (previous + 1..=count).contains(r));
    if !ascending || !in_range {
        return Err(PeerFault::BadHeldRefused { count });
    }
    Ok(())
}

impl Core {
    /// Whether the session on `conn` acknowledges with `Held` (version 3).
    pub(crate) fn uses_held(&self, conn: ConnId) -> bool {
        self.sessions.get(&conn).is_some_and(|s| s.version() >= V3)
    }

    /// Numbers a DocWhole or DocChanges just received on `conn`, with `bytes` of payload;
    /// returns its number on a version-3 session.
    pub(crate) fn count_received(&mut self, conn: ConnId, bytes: usize) -> Option<u64> {
        if !self.uses_held(conn) {
            return None;
        }
        let s = self.sessions.get_mut(&conn)?;
        s.held.received += 1;
        // HS-SYNC-15: the receiver's side of the peer's window.
        s.window.received(s.held.received, bytes);
        Some(s.held.received)
    }

    /// Applies a received DocSync, DocWhole or DocChanges (`held`: its number, version 3) once
    /// `doc` is loaded; the count stops before it until [`Core::held_done`].
    pub(crate) fn apply_when_loaded(
        &mut self,
        now: Instant,
        conn: ConnId,
        doc: &DocId,
        msg: Message,
        held: Option<u64>,
    ) {
        if let (Some(seq), Some(s)) = (held, self.sessions.get_mut(&conn)) {
            s.held.waiting.insert(seq);
        }
        self.want_loaded(now, doc, super::cache::DocOp::Apply { conn, msg, held });
    }

    /// The received message numbered `seq`, which waited for a load, is handled.
    pub(crate) fn held_done(&mut self, conn: ConnId, seq: Option<u64>) {
        if let (Some(seq), Some(s)) = (seq, self.sessions.get_mut(&conn)) {
            s.held.release(seq);
        }
    }

    /// The received message numbered `seq` is handled by dropping it, its document not taken
    /// (HS-SYNC-13): the next `Held` lists it as refused. Leaves it waiting if it was.
    pub(crate) fn held_refused(&mut self, conn: ConnId, seq: Option<u64>) {
        if let (Some(seq), Some(s)) = (seq, self.sessions.get_mut(&conn)) {
            s.held.refused.insert(seq);
        }
    }

    /// Numbers a DocWhole or DocChanges sent on `conn` (a version-3 session): outstanding until a
    /// `Held` covers it.
    pub(crate) fn count_sent(&mut self, conn: ConnId, msg: &Message) {
        let (doc, bytes) = match msg {
            Message::DocWhole { doc, bytes, .. } | Message::DocChanges { doc, bytes } => (doc, bytes.len()),
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
        // HS-SYNC-15: outstanding in the window until a Held covers it.
        s.window.sent(seq, bytes);
        if let Some(previous) = s.held.latest.insert(doc.clone(), seq) {
            s.held.outstanding.remove(&previous);
        }
        s.held.outstanding.insert(seq, doc.clone());
    }

    /// Sends the `Held` owed on every version-3 session, unless the peer's answer to our Resume
    /// is still arriving (its `Resumed` flushes it) and carries less than a window's worth of
    /// bytes not yet acknowledged: a sender whose window is full sends `Resumed` only after
    /// the rest of its answer (HS-SYNC-15). Called at the end of each input.
    pub(crate) fn flush_held(&mut self, now: Instant) {
        let writing = self.durable.any_in_flight();
        let window = self.config.send_window.min(SEND_WINDOW);
        let owed: Vec<ConnId> = self
            .sessions
            .values()
            .filter(|s| s.is_open() && s.held.due(writing))
            .filter(|s| {
                !matches!(s.phase, SyncPhase::Resuming { theirs: None, .. })
                    || s.window.untold_bytes() >= window
            })
            .map(|s| s.conn)
            .collect();
        for conn in owed {
            self.send_held(now, conn);
        }
    }

    /// Sends the `Held` owed on `conn`, if due.
    pub(crate) fn send_held(&mut self, now: Instant, conn: ConnId) {
        let writing = self.durable.any_in_flight();
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if !s.held.due(writing) {
            return;
        }
        let mut owed = Vec::new();
        while s.held.owes() {
            let held = s.held.next_held();
            if let Message::Held { count, .. } = &held {
                s.window.told(*count);
            }
            owed.push(held);
        }
        if owed.is_empty() {
            return;
        }
        for held in owed {
            self.send(conn, &held);
        }
        self.check_settled(now, conn);
    }

    /// The peer handled the first `count` DocWhole and DocChanges messages we sent on `conn`
    /// and dropped those numbered in `refused` (HS-SYNC-14): each document whose latest message
    /// is among them is delivered (HS-SYNC-7), unless that message was refused — then it stays
    /// outstanding, as no `Held` will cover it again.
    pub(crate) fn handle_held(&mut self, now: Instant, conn: ConnId, count: u64, refused: &[u64]) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if let Err(fault) = check_held(s.held.sent, s.held.peer_count, count, refused) {
            self.close_session(now, conn, fault);
            return;
        }
        s.held.peer_count = count;
        // HS-SYNC-15: room in the window; what waits goes out at the end of this input.
        s.window.held(count);
        while let Some(entry) = s.held.outstanding.first_entry() {
            if *entry.key() > count {
                break;
            }
            let dropped = refused.binary_search(entry.key()).is_ok();
            let doc = entry.remove();
            s.held.latest.remove(&doc);
            if !dropped {
                s.unacked.remove(&doc);
            }
        }
        self.check_settled(now, conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_numbers_are_ascending_and_within_the_new_range() {
        // HS-SYNC-14
        assert!(check_held(10, 4, 8, &[]).is_ok());
        assert!(check_held(10, 4, 8, &[5, 8]).is_ok());
        assert_eq!(check_held(10, 4, 11, &[]), Err(PeerFault::BadHeldCount(11)));
        assert_eq!(check_held(10, 4, 3, &[]), Err(PeerFault::BadHeldCount(3)));
        let bad = Err(PeerFault::BadHeldRefused { count: 8 });
        assert_eq!(check_held(10, 4, 8, &[4]), bad, "covered by an earlier Held");
        assert_eq!(check_held(10, 4, 8, &[9]), bad, "beyond the count");
        assert_eq!(check_held(10, 4, 8, &[0]), bad);
        assert_eq!(check_held(10, 4, 8, &[6, 6]), bad, "duplicated");
        assert_eq!(check_held(10, 4, 8, &[7, 6]), bad, "unsorted");
        assert_eq!(check_held(10, 8, 8, &[8]), bad, "nothing new covered");
    }

    #[test]
    fn a_long_refused_list_is_split_over_several_helds() {
        // HS-SYNC-14: at most MAX_HELD_REFUSED numbers per Held, the count stopped before the next.
        let n = 2 * MAX_HELD_REFUSED as u64 + 10;
        let mut held = HeldCount {
            received: n + 5,
            refused: (1..=n).collect(),
            ..HeldCount::default()
        };
        let mut sent = Vec::new();
        while held.owes() {
            sent.push(held.next_held());
        }
        let mut previous = 0;
        let mut all: Vec<u64> = Vec::new();
        for m in &sent {
            let Message::Held { count, refused } = m else {
                panic!("{m:?}");
            };
            assert!(refused.len() <= MAX_HELD_REFUSED);
            assert_eq!(check_held(n + 5, previous, *count, refused), Ok(()));
            previous = *count;
            all.extend(refused);
        }
        assert_eq!(sent.len(), 3);
        assert_eq!(previous, n + 5);
        assert_eq!(all, (1..=n).collect::<Vec<_>>());
    }
}
