//! Protocol version 3: a sender window of document bytes not yet covered by `Held` (HS-SYNC-15).
//!
//! A receiver whose disk is slower than the link stops reading (the runtime's driver bounds the
//! document writes it has in flight); without a bound on the sender the backlog would move into
//! the sender's transport queue, which closes the session once it is full. So on a version-3
//! session the sender keeps at most [`CoreConfig::send_window`](super::CoreConfig::send_window)
//! bytes (default `SEND_WINDOW`) of `DocWhole` / `DocChanges` payload not yet covered by the
//! peer's cumulative `Held` (held.rs): such a message goes out only while the bytes outstanding
//! are below the window, so they never exceed it by more than that one message. Further sends
//! wait, queued by document — what to send, never the bytes — and go out, in order, as `Held`s
//! arrive. `Held` covers a message only once it is durable at the receiver (HS-SYNC-14), so the
//! receiver's disk paces the sender. A session with sends waiting is not up to date (HS-SYNC-7),
//! and its held `Resumed` or final all-Skip `Reconcile` waits for them (HS-RESUME-3,
//! HS-RECON-10).
//!
//! ```text
//!  sender (window W)                          receiver (slow disk)
//!    | -- DocWhole #1 .. #k (W bytes) ------->  |  writes in flight
//!    |    #k+1 .. waits (queued by document)    |
//!    | <----------------------- Held{j} ------  |  #1 .. #j durable
//!    | -- DocWhole #k+1 .. (up to W again) -->  |
//! ```
//!
//! The receiver's side of the window: while the peer's answer to its `Resume` is arriving it
//! holds its `Held` back until the peer's `Resumed` (one `Held` per resume, held.rs), but a
//! sender whose answer fills the window sends `Resumed` only after the rest of it. So a receiver
//! sends the `Held` it owes anyway once the messages it has not yet acknowledged carry a
//! window's worth of bytes — no deadlock, and a resume under the window still costs one `Held`.
//!
//! Before a queued send starts (a load, for a document not cached) the window must have room for
//! it and for the sends already waiting on loads, estimated at the session's average message;
//! a send whose bytes turn out not to fit when they are ready is queued again, its bytes dropped.

use std::collections::{BTreeMap, VecDeque};

use humansync_protocol::{ChangeHash, DocId};

use super::Core;
use super::cache::DocOp;
use crate::{ConnId, Instant};

/// A send waiting for room in the window: what to send, not its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// The whole document (answering a DocWant, a first push, a forward): HS-SYNC-1.
    Whole,
    /// The changes after `after`, heads the peer holds (a resume answer, HS-RESUME-3).
    ChangesAfter(Vec<ChangeHash>),
    /// A live push of what changed (HS-SYNC-4).
    Push,
}

impl Waiting {
    /// The send that waits for `doc` when `self` waits already and `new` is asked for: the more
    /// general one (a whole document covers changes, and either covers a push).
    fn merge(self, new: Waiting) -> Waiting {
        match (self, new) {
            (Waiting::Whole, _) | (_, Waiting::Whole) => Waiting::Whole,
            (Waiting::Push, new) => new,
            (old, Waiting::Push) => old,
            (Waiting::ChangesAfter(_), new @ Waiting::ChangesAfter(_)) => new,
        }
    }
}

/// Payload bytes of DocWhole / DocChanges messages, by number, until a `Held{count}` covers them.
#[derive(Debug, Default)]
struct Unacknowledged {
    /// (message number, payload bytes), in order.
    messages: VecDeque<(u64, usize)>,
    /// Their sum.
    bytes: usize,
}

impl Unacknowledged {
    fn push(&mut self, seq: u64, bytes: usize) {
        self.messages.push_back((seq, bytes));
        self.bytes += bytes;
    }

    /// Drops every message numbered up to `count`.
    fn acknowledge(&mut self, count: u64) {
        while let Some(&(seq, bytes)) = self.messages.front() {
            if seq > count {
                break;
            }
            self.messages.pop_front();
            self.bytes -= bytes;
        }
    }
}

/// One session's window, both ways (HS-SYNC-15).
#[derive(Debug, Default)]
pub(crate) struct SendWindow {
    /// Each DocWhole / DocChanges sent, not yet covered by the peer's `Held`.
    unheld: Unacknowledged,
    /// Payload bytes and count of every DocWhole / DocChanges sent (the average estimates a
    /// send not yet loaded).
    sent_bytes: usize,
    sent_count: usize,
    /// Documents whose send waits for room, in order.
    queue: VecDeque<DocId>,
    /// What each waits to send.
    waiting: BTreeMap<DocId, Waiting>,
    /// True while the queue is being released: a released send does not queue behind the rest.
    releasing: bool,
    /// Receiver side: each DocWhole / DocChanges received, not yet covered by a `Held` sent.
    untold: Unacknowledged,
}

impl SendWindow {
    /// Message `seq` carrying `bytes` of payload was sent.
    pub(crate) fn sent(&mut self, seq: u64, bytes: usize) {
        self.unheld.push(seq, bytes);
        self.sent_bytes = self.sent_bytes.saturating_add(bytes);
        self.sent_count += 1;
    }

    /// The peer's `Held{count}` covers every message up to `count`, refused ones included (they
    /// are no longer in flight).
    pub(crate) fn held(&mut self, count: u64) {
        self.unheld.acknowledge(count);
    }

    /// Message `seq` carrying `bytes` of payload was received.
    pub(crate) fn received(&mut self, seq: u64, bytes: usize) {
        self.untold.push(seq, bytes);
    }

    /// A `Held{count}` was sent.
    pub(crate) fn told(&mut self, count: u64) {
        self.untold.acknowledge(count);
    }

    /// Payload bytes received and not yet acknowledged.
    pub(crate) fn untold_bytes(&self) -> usize {
        self.untold.bytes
    }

    /// Payload bytes sent and not yet covered by `Held`.
    pub(crate) fn unheld_bytes(&self) -> usize {
        self.unheld.bytes
    }

    /// Whether a message may go out now: the bytes outstanding are below `window`.
    fn open(&self, window: usize) -> bool {
        self.unheld.bytes < window
    }

    /// Whether a send may start now, with `preparing` sends waiting on loads already: nothing
    /// queued before it, and room for them all at the average message size.
    fn admits(&self, window: usize, preparing: usize) -> bool {
        let average = self.sent_bytes.checked_div(self.sent_count).unwrap_or(0);
        (self.releasing || self.queue.is_empty())
            && self
                .unheld
                .bytes
                .saturating_add(preparing.saturating_mul(average))
                < window
    }

    /// Queues a send of `doc` (merged with one waiting already).
    fn wait(&mut self, doc: &DocId, what: Waiting, front: bool) {
        match self.waiting.remove(doc) {
            Some(old) => {
                self.waiting.insert(doc.clone(), old.merge(what));
            }
            None => {
                self.waiting.insert(doc.clone(), what);
                if front {
                    self.queue.push_front(doc.clone());
                } else {
                    self.queue.push_back(doc.clone());
                }
            }
        }
    }

    /// Documents whose send waits.
    pub(crate) fn waiting_docs(&self) -> impl Iterator<Item = &DocId> {
        self.queue.iter()
    }

    /// Whether any send waits (the session is not up to date, HS-SYNC-7).
    pub(crate) fn has_waiting(&self) -> bool {
        !self.queue.is_empty()
    }
}

impl Core {
    /// The window of the session on `conn`, if it has one (version 3; `_devices` is never held
    /// back: the registry goes first, HS-REG-6).
    fn window_applies(&self, conn: ConnId, doc: &DocId) -> bool {
        !doc.is_devices() && self.uses_held(conn)
    }

    /// Whether a send of `doc` to `conn` may start now (HS-SYNC-15); when not, it is queued.
    pub(crate) fn window_admits(&mut self, conn: ConnId, doc: &DocId, what: Waiting) -> bool {
        if !self.window_applies(conn, doc) {
            return true;
        }
        let window = self.config.send_window;
        let max_preparing = self.config.max_inflight_loads;
        let Some(s) = self.sessions.get_mut(&conn) else {
            return true;
        };
        let preparing = s.awaiting_loads.len();
        if preparing < max_preparing.max(1) && s.window.admits(window, preparing) {
            return true;
        }
        // A released send that still finds no room goes back to the front.
        let front = s.window.releasing;
        s.window.wait(doc, what, front);
        false
    }

    /// Whether a message for `doc` whose bytes are ready may go out on `conn` now (HS-SYNC-15);
    /// when not, the send is queued again (first in line) and the bytes dropped.
    pub(crate) fn window_open(&mut self, conn: ConnId, doc: &DocId, what: Waiting) -> bool {
        if !self.window_applies(conn, doc) {
            return true;
        }
        let window = self.config.send_window;
        let Some(s) = self.sessions.get_mut(&conn) else {
            return true;
        };
        if s.window.open(window) {
            return true;
        }
        s.window.wait(doc, what, true);
        false
    }

    /// The bytes of DocWhole / DocChanges sent on `conn` and not yet covered by the peer's
    /// `Held` (HS-SYNC-15), and the documents whose send waits for room.
    pub fn send_window(&self, conn: ConnId) -> Option<(usize, usize)> {
        let s = self.sessions.get(&conn)?;
        Some((s.window.unheld_bytes(), s.window.queue.len()))
    }

    /// Sends what waits on every session while its window has room; then a held `Resumed` or
    /// final `Reconcile` may go (HS-RESUME-3, HS-RECON-10). Called at the end of each input.
    pub(crate) fn release_windows(&mut self, now: Instant) {
        let conns: Vec<ConnId> = self
            .sessions
            .values()
            .filter(|s| s.window.has_waiting())
            .map(|s| s.conn)
            .collect();
        for conn in conns {
            self.release_window(now, conn);
        }
    }

    fn release_window(&mut self, now: Instant, conn: ConnId) {
        loop {
            let window = self.config.send_window;
            let max_preparing = self.config.max_inflight_loads.max(1);
            let Some(s) = self.sessions.get_mut(&conn) else {
                return;
            };
            let preparing = s.awaiting_loads.len();
            s.window.releasing = true;
            let room = preparing < max_preparing && s.window.admits(window, preparing);
            let next = room.then(|| s.window.queue.pop_front()).flatten();
            let Some(doc) = next else {
                s.window.releasing = false;
                break;
            };
            let what = s.window.waiting.remove(&doc).unwrap_or(Waiting::Whole);
            self.send_waiting(now, conn, &doc, what);
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.window.releasing = false;
            }
        }
        let waiting = self.sessions.get(&conn).is_some_and(|s| s.window.has_waiting());
        if !waiting {
            self.flush_final_reply(now, conn);
        }
    }

    /// Starts a send that waited, as asked for then, against what this node holds now.
    fn send_waiting(&mut self, now: Instant, conn: ConnId, doc: &DocId, what: Waiting) {
        match what {
            // Deleted or lost since: the peer is told so (HS-SYNC-2).
            Waiting::Whole => self.answer_want(now, conn, doc),
            Waiting::ChangesAfter(after) => self.send_catchup(now, conn, doc, after),
            Waiting::Push if self.cache.get(doc).is_some() => self.push_doc(now, conn, doc),
            // Evicted since: a sync from the stored state sends what the peer lacks.
            Waiting::Push => self.want_loaded(now, doc, DocOp::StartSync { conn, theirs: None }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_frees_the_bytes_it_covers() {
        // HS-SYNC-15
        let mut w = SendWindow::default();
        w.sent(1, 100);
        w.sent(2, 50);
        w.sent(3, 10);
        assert_eq!(w.unheld_bytes(), 160);
        assert!(!w.open(160));
        assert!(w.open(161));
        w.held(2);
        assert_eq!(w.unheld_bytes(), 10);
        w.held(3);
        assert_eq!(w.unheld_bytes(), 0);
    }

    #[test]
    fn a_waiting_send_keeps_the_more_general_form() {
        // HS-SYNC-15: queued by document, one entry each.
        let mut w = SendWindow::default();
        let d = DocId::new("notes/a").expect("id");
        w.wait(&d, Waiting::Push, false);
        w.wait(&d, Waiting::ChangesAfter(Vec::new()), false);
        assert_eq!(w.waiting.get(&d), Some(&Waiting::ChangesAfter(Vec::new())));
        w.wait(&d, Waiting::Whole, false);
        w.wait(&d, Waiting::Push, false);
        assert_eq!(w.waiting.get(&d), Some(&Waiting::Whole));
        assert_eq!(w.queue.len(), 1);
    }

    #[test]
    fn a_start_needs_room_for_the_sends_preparing() {
        // HS-SYNC-15: estimated at the average message sent.
        let mut w = SendWindow::default();
        w.sent(1, 1_000);
        w.sent(2, 1_000);
        w.held(2);
        assert!(w.admits(10_000, 9));
        assert!(!w.admits(10_000, 10));
        w.wait(&DocId::new("notes/a").expect("id"), Waiting::Whole, false);
        assert!(!w.admits(10_000, 0), "queued behind what waits");
    }

    #[test]
    fn untold_bytes_fall_as_held_is_sent() {
        let mut w = SendWindow::default();
        w.received(1, 7);
        w.received(2, 8);
        w.told(1);
        assert_eq!(w.untold_bytes(), 8);
    }
}
