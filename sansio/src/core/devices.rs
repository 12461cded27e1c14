//! The `_devices` document, the registry view and the gate (SPEC.md §3–§4).

use std::collections::BTreeSet;

use humansync_protocol::digest::heads_digest;
use humansync_protocol::{CloseCode, DeviceId, DocDigest, DocId, SignedRecord};

use super::{Core, CoreError};
use crate::gate::Admission;
use crate::registry::RegistryChange;
use crate::{ConnId, Event, Instant, Output};

impl Core {
    /// Digest of the local `_devices` document, sent in Hello and Welcome (HS-REG-6).
    pub(crate) fn devices_digest(&self) -> DocDigest {
        let heads = self
            .cache
            .get(&DocId::devices())
            .map(|d| d.heads())
            .unwrap_or_default();
        heads_digest(&heads)
    }

    /// `_devices` changed (from a peer via `from`, or locally): verify, heal, save, gate, push.
    pub(crate) fn devices_doc_changed(&mut self, now: Instant, from: Option<ConnId>) {
        self.registry_changed(now, from);
    }

    /// Re-reads `_devices` into the registry view (HS-REG-3, HS-REG-4), re-inserts records a peer
    /// dropped, saves, closes sessions of devices no longer admitted at once (HS-GATE-4) and pushes
    /// the document to every other session (HS-REG-6).
    pub(crate) fn registry_changed(&mut self, now: Instant, from: Option<ConnId>) {
        let devices = DocId::devices();
        let Some(loaded) = self.cache.get_mut(&devices) else {
            return;
        };
        let changes = self.registry.absorb_doc(&loaded.am);
        let healed = self.registry.heal_doc(&mut loaded.am);
        if self.save(now, &devices).is_some() {
            self.note_handshake_change(&devices);
        }
        for change in changes {
            match change {
                RegistryChange::Added(device) => self.emit(Event::DeviceAdded(device)),
                RegistryChange::Revoked(device) => self.emit(Event::DeviceRevoked(device)),
            }
        }
        let gate = crate::gate::GateView::new(self.config.me, &self.registry);
        if gate != self.gate {
            // The runtime's gate decides new connections with the new view before the
            // DisconnectPeer outputs below close the old ones (HS-GATE-3, HS-GATE-4).
            self.gate = gate;
            self.outputs.push_back(Output::Gate(self.gate.clone()));
        }
        self.enforce_gate(now);
        self.plan_dials(now);
        let conns: Vec<ConnId> = self.open_conns().filter(|c| healed || Some(*c) != from).collect();
        for conn in conns {
            self.sync_step(now, conn, &devices);
        }
    }

    /// HS-GATE-4, HS-GATE-5: drops every session whose peer is no longer admitted (every
    /// session, once this node is revoked in its own view), discarding anything still queued for
    /// it, and asks the runtime to close all its connections.
    fn enforce_gate(&mut self, now: Instant) {
        let refused: Vec<(ConnId, humansync_protocol::DeviceId, CloseCode)> = self
            .sessions
            .values()
            .filter_map(|s| match self.gate.admit(&s.peer) {
                Admission::Admit => None,
                Admission::Reject(code) => Some((s.conn, s.peer, code)),
            })
            .collect();
        if refused.is_empty() {
            return;
        }
        let conns: BTreeSet<ConnId> = refused.iter().map(|(c, _, _)| *c).collect();
        self.drop_outputs_for(&conns);
        let mut peers = BTreeSet::new();
        for (conn, peer, code) in refused {
            if let Some(session) = self.sessions.remove(&conn) {
                self.session_ended(now, session, code);
            }
            if peers.insert(peer) {
                self.outputs.push_back(Output::DisconnectPeer { peer, code });
            }
        }
    }

    /// HS-GATE-2 plus HS-GATE-5: the admission decision for a new connection.
    pub(crate) fn admission(&self, peer: &humansync_protocol::DeviceId) -> Admission {
        self.gate.admit(peer)
    }

    /// Sets the registry anchor after pairing (HS-PAIR-6).
    pub fn set_anchor(&mut self, now: Instant, anchor: DeviceId) -> Result<(), CoreError> {
        self.registry
            .set_anchor(anchor)
            .map_err(|e| CoreError::Record(e.to_string()))?;
        self.config.anchor = Some(anchor);
        self.registry_changed(now, None);
        Ok(())
    }

    /// Adds a signed registry record (the anchor after signing one, or a device after pairing) to
    /// the registry and to `_devices`, and pushes it to every session (HS-REG-6).
    pub fn add_registry_record(&mut self, now: Instant, record: &SignedRecord) -> Result<(), CoreError> {
        let change = self
            .registry
            .insert(record)
            .map_err(|e| CoreError::Record(e.to_string()))?;
        // The view has the record now, so re-reading `_devices` finds no change: report it here.
        match change {
            Some(crate::registry::RegistryChange::Added(device)) => self.emit(Event::DeviceAdded(device)),
            Some(crate::registry::RegistryChange::Revoked(device)) => self.emit(Event::DeviceRevoked(device)),
            None => {}
        }
        let changed = self
            .cache
            .get_mut(&DocId::devices())
            .map(|d| crate::registry::put_record(&mut d.am, record))
            .unwrap_or(false);
        if changed {
            self.devices_doc_changed(now, None);
        } else {
            self.registry_changed(now, None);
        }
        Ok(())
    }

    /// Test hook: lets a simulated malicious device rewrite its own `_devices` copy (forge records,
    /// delete keys) and push the result to its peers, as a modified client could.
    #[cfg(feature = "testing")]
    pub fn tamper_devices_doc(&mut self, now: Instant, f: impl FnOnce(&mut automerge::Automerge)) {
        if let Some(loaded) = self.cache.get_mut(&DocId::devices()) {
            f(&mut loaded.am);
            self.save(now, &DocId::devices());
            let conns: Vec<ConnId> = self.open_conns().collect();
            for conn in conns {
                self.sync_step(now, conn, &DocId::devices());
            }
        }
    }
}
