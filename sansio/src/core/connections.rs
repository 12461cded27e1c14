//! The life of a connection: admission (HS-GATE-2, HS-GATE-3), the connection policy's inputs
//! (HS-TRANSPORT-4), closing a session — with a typed reason, [`crate::PeerFault`] or a local
//! [`Closing`] — and what ends with it.

use automerge::sync;
use humansync_protocol::{CloseCode, DeviceId, Message, encode_frame};

use super::session::Session;
use super::{Core, DialStats, tie_break};
use crate::fault::Closing;
use crate::{ConnId, Event, Instant, Output, Role};

impl Core {
    /// A transport connection with `peer` finished its TLS handshake. Returns whether it is admitted;
    /// when it is not, the runtime MUST close it with the code and process nothing from it (HS-GATE-3).
    pub fn handle_connection(
        &mut self,
        now: Instant,
        conn: ConnId,
        peer: DeviceId,
        role: Role,
    ) -> crate::gate::Admission {
        let admission = self.admission(&peer);
        if admission != crate::gate::Admission::Admit {
            if role == Role::Dialer {
                // Our own gate refused what we dialled (the registry changed meanwhile).
                self.dialer.dial_failed(now, &self.gate, peer);
            }
            return admission;
        }
        self.dialer.session_started(peer, role == Role::Dialer);
        let session = Session::new(conn, peer, role, now, self.metas.summary());
        self.sessions.insert(conn, session);
        if role == Role::Dialer {
            let hello = humansync_protocol::Message::Hello {
                versions: self.config.versions.clone(),
                set: self.metas.summary(),
                devices: self.devices_digest(),
            };
            self.send(conn, &hello);
        }
        self.plan_dials(now);
        admission
    }

    /// A dial this core asked for ([`Output::Dial`]) failed before any session started: no
    /// route, a timeout, or the peer's gate refused us during the handshake (HS-GATE-7). The
    /// peer is dialled again after a growing delay.
    pub fn handle_dial_failed(&mut self, now: Instant, peer: DeviceId) {
        self.dialer.dial_failed(now, &self.gate, peer);
        self.plan_dials(now);
    }

    /// The runtime learned a new address for `peer` (pairing, GET /devices, mDNS): if it is a
    /// peer to dial, it is dialled at once instead of after its backoff.
    ///
    /// A session with `peer` that has received nothing for [`tie_break::DUPLICATE_RACE_MS`] may be
    /// dead at the peer's end (it restarted and nothing told us): it is replaced by a new dial,
    /// and the tie-break keeps the newer session (HS-TRANSPORT-4).
    pub fn handle_peer_seen(&mut self, now: Instant, peer: DeviceId) {
        let silent = |s: &Session| s.is_open() && now.ms_since(s.last_in) >= tie_break::DUPLICATE_RACE_MS;
        let sessions: Vec<&Session> = self.sessions.values().filter(|s| s.peer == peer).collect();
        let stale = !sessions.is_empty() && sessions.iter().all(|s| silent(s));
        self.dialer.peer_seen(now, peer, stale);
        self.plan_dials(now);
    }

    /// The admission view every gate of this node decides with (HS-GATE-2, HS-GATE-5).
    pub fn gate(&self) -> &crate::gate::GateView {
        &self.gate
    }

    /// Counters of the connection policy.
    pub fn dial_stats(&self) -> DialStats {
        self.dialer.stats()
    }

    /// The gate's decision for `peer` right now (HS-GATE-2, HS-GATE-5).
    pub fn admission_of(&self, peer: &DeviceId) -> crate::gate::Admission {
        self.admission(peer)
    }

    /// Asks for a dial of every admitted peer that has no session and whose time has come.
    pub(crate) fn plan_dials(&mut self, now: Instant) {
        // Split borrows: the dialer decides, reading the sessions and the gate.
        let sessions = &self.sessions;
        self.dialer
            .plan(now, &self.gate, |peer| sessions.has_peer(peer), &mut self.outputs);
    }

    /// The transport connection closed (by the peer, the network or us).
    pub fn handle_connection_closed(&mut self, now: Instant, conn: ConnId, code: CloseCode) {
        if let Some(session) = self.sessions.remove(&conn) {
            // The transport is gone: nothing queued for it can be sent any more.
            self.drop_outputs_for(&std::collections::BTreeSet::from([conn]));
            self.session_ended(now, session, code);
        }
    }

    /// Closes a session on behalf of the app or runtime (for example at shutdown).
    pub fn close(&mut self, now: Instant, conn: ConnId, code: CloseCode) {
        self.close_session(now, conn, crate::fault::Closing::Local(code));
    }

    /// Closes a session: sends Close, asks the runtime to close the connection, reports it.
    pub(crate) fn close_session(&mut self, now: Instant, conn: ConnId, why: impl Into<Closing>) {
        if !self.sessions.contains_key(&conn) {
            return;
        }
        let why = why.into();
        let code = why.code();
        let mut reason = why.reason();
        let mut cut = reason.len().min(humansync_protocol::limits::MAX_REASON_LEN);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        if let Ok(bytes) = encode_frame(&Message::Close { code, reason }) {
            self.outputs.push_back(Output::Transmit { conn, bytes });
        }
        self.outputs.push_back(Output::Close { conn, code });
        if let Some(session) = self.sessions.remove(&conn) {
            self.session_ended(now, session, code);
        }
    }

    /// Forget per-session state: in-flight sync state resets to its persisted form.
    pub(crate) fn session_ended(&mut self, now: Instant, session: Session, code: CloseCode) {
        let peer = session.peer;
        self.reset_sync_states(peer);
        self.blobs.peer_gone(&peer);
        let opened = session.is_open();
        if opened {
            self.emit(Event::PeerDisconnected { peer, code });
        }
        self.dialer.session_ended(now, &self.gate, peer, opened);
        self.plan_dials(now);
    }

    /// Drops the in-flight part of every sync state with `peer` (what was sent, what it said it
    /// has), keeping only the persisted shared heads. Done whenever a session with the peer opens
    /// or ends, since messages of another session may never have arrived.
    pub(crate) fn reset_sync_states(&mut self, peer: DeviceId) {
        for (_, loaded) in self.cache.iter_mut() {
            if let Some(state) = loaded.sync.get_mut(&peer) {
                *state = sync::State::decode(&state.encode()).unwrap_or_default();
            }
        }
    }
}
