//! Every session of the node, by connection, with the questions the rest of the core asks of
//! them as a whole (which are open, which await Welcome, which timers are due).

use std::collections::BTreeMap;

use humansync_protocol::{DeviceId, DocId};

use super::session::{Handshake, Session};
use crate::{ConnId, Instant};

/// The node's sessions, by connection.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_conn: BTreeMap<ConnId, Session>,
}

impl Sessions {
    pub(crate) fn get(&self, conn: &ConnId) -> Option<&Session> {
        self.by_conn.get(conn)
    }

    pub(crate) fn get_mut(&mut self, conn: &ConnId) -> Option<&mut Session> {
        self.by_conn.get_mut(conn)
    }

    pub(crate) fn contains_key(&self, conn: &ConnId) -> bool {
        self.by_conn.contains_key(conn)
    }

    pub(crate) fn insert(&mut self, conn: ConnId, session: Session) {
        self.by_conn.insert(conn, session);
    }

    pub(crate) fn remove(&mut self, conn: &ConnId) -> Option<Session> {
        self.by_conn.remove(conn)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Session> {
        self.by_conn.values()
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Session> {
        self.by_conn.values_mut()
    }

    /// The connections whose handshake is complete, in order.
    pub(crate) fn open_conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.values().filter(|s| s.is_open()).map(|s| s.conn)
    }

    /// Whether any session (open or in its handshake) is with `peer`.
    pub(crate) fn has_peer(&self, peer: &DeviceId) -> bool {
        self.values().any(|s| s.peer == *peer)
    }

    /// The sessions whose handshake deadline has passed (HS-VER-3, HS-VER-5).
    pub(crate) fn handshakes_expired(&self, now: Instant) -> Vec<ConnId> {
        self.values()
            .filter(|s| s.handshake.deadline().is_some_and(|deadline| deadline <= now))
            .map(|s| s.conn)
            .collect()
    }

    /// The sessions whose Synced is due (HS-RESUME-5).
    pub(crate) fn synced_due(&self, now: Instant) -> Vec<ConnId> {
        self.values()
            .filter(|s| s.synced.due.is_some_and(|at| at <= now))
            .map(|s| s.conn)
            .collect()
    }

    /// Remembers a change for every dialled session still awaiting Welcome: it is not in the
    /// Hello summary and is pushed once the session opens (HS-SYNC-4).
    pub(crate) fn note_handshake_change(&mut self, doc: &DocId) {
        for session in self.values_mut() {
            if let Handshake::AwaitWelcome { changed, .. } = &mut session.handshake {
                changed.insert(doc.clone());
            }
        }
    }

    /// `doc` was deleted: no session wants it, syncs it or waits for its acknowledgement any more
    /// (HS-DOC-5).
    pub(crate) fn forget_doc(&mut self, doc: &DocId) {
        for session in self.values_mut() {
            session.wanted.remove(doc);
            session.syncing.remove(doc);
            session.unacked.remove(doc);
        }
    }
}
