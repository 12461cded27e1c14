//! Range reconciliation on a session (HS-RECON-7 .. HS-RECON-10): answering a Reconcile as its
//! [`SyncPhase`](super::session::SyncPhase) allows, holding the final all-Skip and a Resumed
//! until the document messages they follow are out, and settling (HS-SYNC-7).

use humansync_protocol::{DocId, Message};

use super::Core;
use super::cache::DocOp;
use super::session::OnReconcile;
use crate::fault::PeerFault;
use crate::recon::{self, ReconAction};
use crate::{ConnId, Event, Instant, Origin};

impl Core {
    pub(crate) fn handle_reconcile(
        &mut self,
        now: Instant,
        conn: ConnId,
        ranges: &[humansync_protocol::RangeEntry],
    ) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        // HS-RECON-10: only when it is the peer's turn (not after equal summaries, nor once
        // ended). HS-RESUME-6: the first Reconcile after a resume waits until the peer's answer
        // is applied here, so that it compares the sets the resume made.
        match s.phase.on_reconcile(!s.awaiting_loads.is_empty(), ranges) {
            Ok(OnReconcile::Respond) => s.stats.recon_in += 1,
            Ok(OnReconcile::Held) => return,
            Err(fault) => {
                self.close_session(now, conn, fault);
                return;
            }
        }
        let response = match recon::respond(self.metas.set(), ranges) {
            Ok(r) => r,
            Err(e) => {
                self.close_session(now, conn, PeerFault::Recon(e));
                return;
            }
        };
        let finished = response.is_final();
        // HS-RECON-10: a reply that continues reconciliation goes first, so the peer can carry
        // on; the all-Skip that ends it goes last, after the document messages it causes, so the
        // peer has them by the time it learns reconciliation is over (HS-SYNC-7).
        let mut final_reply = None;
        if let Some(reply) = response.reply {
            if finished {
                final_reply = Some(reply);
            } else {
                self.send(conn, &Message::Reconcile { ranges: reply });
            }
        }
        let mut wants = Vec::new();
        for action in response.actions {
            match action {
                ReconAction::SendWhole(doc) => self.want_loaded(now, &doc, DocOp::SendWhole { conn }),
                ReconAction::SendDeleted(doc) => self.send(conn, &Message::DocDeleted { doc }),
                ReconAction::Want(doc) => wants.push(doc),
                ReconAction::RecordTombstone(doc) | ReconAction::DeleteLocal(doc) => {
                    let peer = self.sessions.get(&conn).map(|s| s.peer);
                    self.tombstone(now, &doc, peer.map(Origin::Remote).unwrap_or(Origin::Local));
                }
                ReconAction::Sync(doc) => {
                    let theirs = received_digest(ranges, &doc);
                    self.start_sync(now, conn, &doc, theirs);
                }
            }
        }
        for chunk in wants.chunks(humansync_protocol::limits::MAX_WANT) {
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.wanted.extend(chunk.iter().cloned());
            }
            self.send(conn, &Message::DocWant { docs: chunk.to_vec() });
        }
        if finished {
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.phase.answered_reconcile(true, final_reply);
                let peer = s.peer;
                self.emit(Event::Reconciled(peer));
            }
            self.flush_final_reply(now, conn);
            self.check_settled(now, conn);
        }
    }

    /// Sends the held all-Skip Reconcile once no document message for the session waits on a
    /// load any more (HS-RECON-10).
    pub(crate) fn flush_final_reply(&mut self, now: Instant, conn: ConnId) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        // HS-SYNC-15: nor while a send waits for room in the window.
        if !s.awaiting_loads.is_empty() || s.window.has_waiting() {
            return;
        }
        // HS-RESUME-3: the same holds for the Resumed that ends an answer to Resume.
        if let Some(complete) = s.phase.take_held_resumed() {
            self.send(conn, &Message::Resumed { complete });
        }
        self.resume_progress(now, conn);
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if let Some(ranges) = s.phase.take_deferred() {
            self.handle_reconcile(now, conn, &ranges);
        }
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if let Some(ranges) = s.phase.take_final_reply() {
            self.send(conn, &Message::Reconcile { ranges });
        }
        self.check_settled(now, conn);
    }

    /// Reports reconciliation and settles the status once nothing is outstanding (HS-SYNC-7).
    pub(crate) fn check_settled(&mut self, now: Instant, conn: ConnId) {
        let Some(s) = self.sessions.get(&conn) else { return };
        if s.is_settled() {
            self.last_sync = Some(now);
            self.accept_parked_cursors();
            self.maybe_send_synced(now, conn);
        }
    }
}

/// The digest a received Reconcile lists for `doc` in one of its `Items` ranges.
fn received_digest(
    ranges: &[humansync_protocol::RangeEntry],
    doc: &DocId,
) -> Option<humansync_protocol::DocDigest> {
    ranges.iter().find_map(|range| match &range.mode {
        humansync_protocol::RangeMode::Items(items) => items
            .binary_search_by(|item| item.doc.as_str().as_bytes().cmp(doc.as_str().as_bytes()))
            .ok()
            .and_then(|i| items.get(i))
            .map(|item| item.digest),
        _ => None,
    })
}
