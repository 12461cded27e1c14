//! A received document is covered by `Held` only once it is durable here (HS-SYNC-14,
//! HS-SYNC-8; issue 20).
//!
//! The chaos soak (seed 303) found a device reported up to date by its peer while it lacked four
//! of the peer's changes: its disk was full, the store refused the writes, yet the changes,
//! merged in memory, were counted in the next `Held` at once; then the device was killed and the
//! changes were gone, while the peer, counting them delivered, said there was nothing left to
//! send. Now a received DocWhole or DocChanges holds the count below its number while a write of
//! its document is in flight or refused (resave.rs, append.rs), and the count moves on when the
//! store has taken every write of it — after a retry once space returns, with no restart.
//!
//! ```text
//!  sender                                   receiver (disk full)
//!    | -- DocChanges #7 (d) ------------------> |  merged; SaveDoc(d) refused
//!    |                                          |  ... Held stays at 6
//!    |                                          |  space returns, SaveDoc(d) retried, taken
//!    | <------------------------- Held{7} ----- |
//! ```

use std::collections::BTreeMap;

use humansync_protocol::DocId;

use super::Core;
use crate::{ConnId, IoAction, IoTaskId};

/// The bytes a write task carries: the document bytes and the sync states.
pub(crate) fn write_bytes(action: &IoAction) -> usize {
    match action {
        IoAction::SaveDoc {
            write, sync_states, ..
        } => {
            let states: usize = sync_states.iter().map(|(_, s)| s.len()).sum();
            write.as_ref().map_or(0, |w| w.bytes().len()) + states
        }
        _ => 0,
    }
}

/// Writes in flight and the received messages waiting for them, by document.
#[derive(Debug, Default)]
pub(crate) struct DurableWaits {
    /// Writes of each document asked of the store and not yet answered.
    in_flight: BTreeMap<DocId, usize>,
    /// The bytes each write in flight carries (document bytes and sync states).
    task_bytes: BTreeMap<IoTaskId, usize>,
    /// Their sum ([`Core::write_bytes_in_flight`]).
    bytes: usize,
    /// Received messages (session, number) waiting for their document to be durable.
    waits: BTreeMap<DocId, Vec<(ConnId, u64)>>,
}

impl DurableWaits {
    /// Task `id`, a write of `doc` carrying `bytes`, was asked of the store.
    pub(crate) fn write_started(&mut self, doc: &DocId, id: IoTaskId, bytes: usize) {
        *self.in_flight.entry(doc.clone()).or_default() += 1;
        self.task_bytes.insert(id, bytes);
        self.bytes += bytes;
    }

    /// Task `id`, a write of `doc`, was answered (taken or refused).
    pub(crate) fn write_answered(&mut self, doc: &DocId, id: IoTaskId) {
        if let Some(n) = self.in_flight.get_mut(doc) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(doc);
            }
        }
        self.bytes -= self.task_bytes.remove(&id).unwrap_or(0);
    }

    fn writing(&self, doc: &DocId) -> bool {
        self.in_flight.contains_key(doc)
    }

    /// Whether any document write is in flight.
    pub(crate) fn any_in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }
}

impl Core {
    /// Bytes of document writes asked of the store and not answered yet (document bytes and
    /// sync states). A driver bounds what it reads from the network by it (issue 17): while it
    /// is high the disk is behind, and the peer's window (HS-SYNC-15) holds the sender back
    /// because `Held` waits for these writes (HS-SYNC-14).
    pub fn write_bytes_in_flight(&self) -> usize {
        self.durable.bytes
    }

    /// Whether everything this node holds of `doc` is durable: no write of it in flight and
    /// none the store refused waiting to be asked for again.
    fn doc_durable(&self, doc: &DocId) -> bool {
        !self.durable.writing(doc) && !self.resave.refuses(doc) && !self.refused_appends.contains(doc)
    }

    /// The received message numbered `seq` on `conn`, for `doc`, is handled: `Held` covers it
    /// once `doc` is durable. A message still waiting for a load, or refused, is left as it is.
    pub(crate) fn held_when_durable(&mut self, conn: ConnId, doc: &DocId, seq: Option<u64>) {
        let Some(seq) = seq else {
            return;
        };
        let durable = self.doc_durable(doc);
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if durable || !s.held.hold(seq) {
            return;
        }
        let waits = self.durable.waits.entry(doc.clone()).or_default();
        // Messages of closed sessions no longer wait for anything.
        waits.retain(|(c, _)| self.sessions.contains_key(c));
        waits.push((conn, seq));
    }

    /// Lets `Held` cover the messages waiting for `doc`, once it is durable.
    pub(crate) fn release_if_durable(&mut self, doc: &DocId) {
        if !self.durable.waits.contains_key(doc) || !self.doc_durable(doc) {
            return;
        }
        for (conn, seq) in self.durable.waits.remove(doc).unwrap_or_default() {
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.held.release(seq);
            }
        }
    }
}
