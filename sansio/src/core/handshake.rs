//! Receiving: frame decoding and the handshake (HS-FRAME-2, HS-FRAME-3, HS-VER-1 .. HS-VER-6);
//! an open session's messages go on to [`Core::handle_open_message`] (`receive.rs`).

use humansync_protocol::{CloseCode, DocId, Message, V2, allowed_in, negotiate};

use super::Core;
use super::session::{Handshake, Opening};
use crate::fault::{Closing, PeerFault};
use crate::recon;
use crate::{ConnId, Event, Instant, Output};

/// What a completed handshake hands the open session (HS-VER-1, HS-RECON-1).
#[derive(Debug)]
struct Opened {
    /// The negotiated version.
    version: u16,
    /// The summary in Hello (the dialer's set).
    hello_set: humansync_protocol::SetSummary,
    /// The summary in Welcome (the acceptor's set).
    welcome_set: humansync_protocol::SetSummary,
    /// The peer's `_devices` digest.
    devices: humansync_protocol::DocDigest,
    /// Documents changed while the dialer waited for Welcome (HS-SYNC-4).
    changed: std::collections::BTreeSet<DocId>,
}

impl Core {
    pub(crate) fn inbound(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        session.stats.bytes_in += bytes.len() as u64;
        session.last_in = now;
        session.decoder.push(bytes);
        loop {
            let Some(session) = self.sessions.get_mut(&conn) else {
                return;
            };
            match session.decoder.next_message() {
                Ok(None) => return,
                Ok(Some(msg)) => {
                    session.stats.frames_in += 1;
                    if session.stats.frames_out > session.frames_out_at_last_in {
                        session.stats.round_trips += 1;
                    }
                    session.frames_out_at_last_in = session.stats.frames_out;
                    self.handle_message(now, conn, msg);
                }
                Err(err) => {
                    // HS-FRAME-2, HS-FRAME-3
                    self.close_session(now, conn, PeerFault::Frame(err));
                    return;
                }
            }
        }
    }

    fn handle_message(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        match (&session.handshake, msg) {
            // HS-CLOSE-2, HS-CLOSE-3: a Close is allowed in any phase, before the handshake too;
            // we stop, send nothing more and close with NORMAL. Its code is only reported
            // (an unknown one like PROTOCOL): a peer's REVOKED proves nothing (HS-GATE-7).
            (_, Message::Close { code, .. }) => {
                if let Some(session) = self.sessions.remove(&conn) {
                    self.outputs.push_back(Output::Close {
                        conn,
                        code: CloseCode::NORMAL,
                    });
                    self.session_ended(now, session, code);
                }
            }
            // HS-VER-1, HS-VER-2
            (
                Handshake::AwaitHello { .. },
                Message::Hello {
                    versions,
                    set,
                    devices,
                },
            ) => {
                let Some(version) = negotiate(&self.config.versions, &versions) else {
                    self.close_session(now, conn, PeerFault::NoCommonVersion);
                    return;
                };
                session.handshake.open(version, now);
                let ours = self.metas.summary();
                let welcome = Message::Welcome {
                    version,
                    set: ours,
                    devices: self.devices_digest(),
                };
                self.send(conn, &welcome);
                // The acceptor compares (Hello set, Welcome set); so does the dialer (HS-RECON-1).
                let opened = Opened {
                    version,
                    hello_set: set,
                    welcome_set: ours,
                    devices,
                    changed: Default::default(),
                };
                self.session_opened(now, conn, opened);
            }
            (
                Handshake::AwaitWelcome { hello_set, .. },
                Message::Welcome {
                    version,
                    set,
                    devices,
                },
            ) => {
                if !self.config.versions.contains(&version) {
                    // HS-VER-4: a version we did not offer.
                    self.close_session(now, conn, PeerFault::VersionNotOffered);
                    return;
                }
                let hello_set = *hello_set;
                let changed = session.handshake.open(version, now);
                let opened = Opened {
                    version,
                    hello_set,
                    welcome_set: set,
                    devices,
                    changed,
                };
                self.session_opened(now, conn, opened);
            }
            // HS-VER-3: nothing else before the handshake, no second Hello/Welcome after it.
            (Handshake::AwaitHello { .. } | Handshake::AwaitWelcome { .. }, other)
            | (Handshake::Open { .. }, other @ (Message::Hello { .. } | Message::Welcome { .. })) => {
                self.close_session(now, conn, PeerFault::UnexpectedMessage(other.kind()));
            }
            // HS-MSG-5: version-2 messages only in version-2 sessions.
            (Handshake::Open { version, .. }, msg) if !allowed_in(&msg, *version) => {
                self.close_session(now, conn, PeerFault::NeedsVersion2(msg.kind()));
            }
            (Handshake::Open { .. }, msg) => self.handle_open_message(now, conn, msg),
        }
    }

    /// Handshake done: report, start the registry sync and reconciliation, announce blob wants.
    fn session_opened(&mut self, now: Instant, conn: ConnId, opened: Opened) {
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        let (peer, role) = (session.peer, session.role);
        // HS-TRANSPORT-3, HS-TRANSPORT-4: keep one session per peer.
        let duplicate = self
            .sessions
            .values()
            .find(|s| s.peer == peer && s.conn != conn && s.is_open())
            .map(|s| (s.conn, s.role, s.handshake.opened_at()));
        if let Some((other, other_role, other_opened)) = duplicate {
            let loser = super::tie_break::loser(super::tie_break::Pair {
                me: self.config.me,
                peer,
                now,
                newer: (conn, role),
                older: (other, other_role, other_opened),
            });
            self.close_session(now, loser, Closing::Duplicate);
            if loser == conn {
                return;
            }
        }
        self.dialer.session_opened(peer);
        self.reset_sync_states(peer);
        self.emit(Event::PeerConnected(peer));
        // HS-REG-6, HS-REG-10, HS-SYNC-6: the registry first — both sides start the `_devices`
        // sync at once when the digests differ, before any Resume or Reconcile.
        if opened.devices != self.devices_digest() {
            self.sync_step(now, conn, &DocId::devices());
        }
        // One comparison, one answer on both sides: (Hello set, Welcome set) (HS-RECON-1).
        let in_sync = opened.hello_set == opened.welcome_set;
        // HS-VER-6: the resume and its messages only in a version-2 session.
        let resume = !in_sync && opened.version >= V2;
        let position = self.log.position();
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        match session.phase.open(in_sync, resume, role) {
            Opening::InSync => {
                // HS-RESUME-5: equal sets at the handshake: nothing new to tell (a no-change
                // reconnect stays Hello and Welcome).
                session.synced.sent = Some((position, opened.welcome_set));
                self.emit(Event::Reconciled(peer));
                self.last_sync = Some(now);
            }
            Opening::SendResume => self.start_resume(conn),
            Opening::SendReconcile => {
                // HS-RECON-7: the dialer starts.
                let ranges = recon::initiate(self.metas.set());
                self.send(conn, &Message::Reconcile { ranges });
            }
            // HS-RECON-10: the dialer sends first, so the acceptor waits for a Reconcile.
            Opening::AwaitReconcile => {}
        }
        self.announce_wants_to(conn);
        // HS-SYNC-4: what changed here between Hello and Welcome was not in the Hello summary
        // and could not be pushed yet (found by the simulation fuzz target): push it now.
        for doc in opened.changed {
            match self.metas.digest(&doc) {
                Some(digest) if digest.is_tombstone() => self.send(conn, &Message::DocDeleted { doc }),
                _ => self.push_doc(now, conn, &doc),
            }
        }
        self.check_settled(now, conn);
    }

    /// Remembers a change for every dialled session still awaiting Welcome (HS-SYNC-4).
    pub(crate) fn note_handshake_change(&mut self, doc: &DocId) {
        self.sessions.note_handshake_change(doc);
    }
}
