//! Invariants: what must hold at every step (checked by the simulation itself, recorded in
//! [`Sim::violations`]) and at the end of a run ([`Sim::check_converged`]), and when a run
//! counts as settled. The up-to-date claim (HS-SYNC-7) is [`super::false_up_to_date_claims`].

use std::collections::BTreeSet;

use automerge::ReadDoc;
use humansync_protocol::DocId;

use super::Sim;
use super::events::SimEvent;
use super::node::SimNode;
use crate::ConnId;
use crate::gate::Admission;

impl Sim {
    /// HS-GATE-3/4: a node never sends to a peer its own registry does not admit.
    pub(crate) fn check_send_admitted(&mut self, from: usize, to: usize, len: usize) {
        let to_id = self.nodes[to].id();
        let sender_admits = self.nodes[from]
            .host
            .core
            .as_ref()
            .map(|c| c.admission_of(&to_id));
        if sender_admits.is_some_and(|a| a != Admission::Admit) {
            self.violations.push(format!(
                "seed {} t={}: {} sent {len} bytes to non-admitted {}",
                self.seed,
                self.now.0,
                self.nodes[from].name(),
                self.nodes[to].name()
            ));
        }
    }

    /// Gating: a core with a live session never accepts bytes from a non-admitted peer.
    pub(crate) fn check_accept_admitted(&mut self, conn: ConnId, from: usize, to: usize) {
        let peer_id = self.nodes[from].id();
        let Some(core) = self.nodes[to].host.core.as_ref() else {
            return;
        };
        if core.session_stats(conn).is_some() && core.admission_of(&peer_id) != Admission::Admit {
            self.violations.push(format!(
                "seed {} t={}: {} accepted bytes from non-admitted {}",
                self.seed,
                self.now.0,
                self.nodes[to].name(),
                self.nodes[from].name()
            ));
        }
    }

    /// HS-REG-4: a node's set of revoked devices never shrinks.
    pub(crate) fn check_registry_monotonic(&mut self, idx: usize) {
        let Some(core) = self.nodes[idx].host.core.as_ref() else {
            return;
        };
        let now: BTreeSet<_> = core
            .registry()
            .devices()
            .filter(|(_, s)| s.revoked_at_ms.is_some())
            .map(|(d, _)| *d)
            .collect();
        if !now.is_superset(&self.revoked_seen[idx]) {
            self.violations.push(format!(
                "seed {} t={}: {} forgot a revocation",
                self.seed,
                self.now.0,
                self.nodes[idx].name()
            ));
        }
        self.revoked_seen[idx] = now;
    }

    /// Checks convergence among the running, admitted nodes: same documents with the same digests,
    /// same `_devices`, and every acknowledged edit present in every copy of a live document.
    pub fn check_converged(&self, members: &[usize]) -> Result<(), String> {
        let authors: Vec<&SimNode> = members.iter().map(|&i| &self.nodes[i]).collect();
        let seed = self.seed;
        let mut docs: BTreeSet<DocId> = BTreeSet::new();
        for &i in members {
            let host = &self.nodes[i].host;
            if !host.is_up() {
                return Err(format!("seed {seed}: {} is down", host.name));
            }
            docs.extend(host.store.docs.keys().cloned());
        }
        for doc in &docs {
            let digests: Vec<_> = members
                .iter()
                .map(|&i| self.nodes[i].host.core.as_ref().and_then(|c| c.digest(doc)))
                .collect();
            if digests.windows(2).any(|w| w[0] != w[1]) {
                let names: Vec<_> = members.iter().map(|&i| self.nodes[i].name()).collect();
                return Err(format!(
                    "seed {seed}: {doc} differs across {names:?}: {digests:?}"
                ));
            }
        }
        for node in authors {
            for (doc, key) in &node.acked {
                for &i in members {
                    let name = self.nodes[i].name();
                    let Some(stored) = self.nodes[i].host.store.docs.get(doc) else {
                        return Err(format!(
                            "seed {seed}: {name} lacks {doc} (edit {key} by {})",
                            node.name()
                        ));
                    };
                    if stored.meta.tombstone {
                        continue; // deleted for good: the deletion wins (HS-DOC-5)
                    }
                    let am = crate::untrusted::load(&stored.bytes)
                        .map_err(|e| format!("seed {seed}: {name} stored {doc} does not load: {e}"))?;
                    if am.get(automerge::ROOT, key.as_str()).ok().flatten().is_none() {
                        return Err(format!(
                            "seed {seed}: {name} lost edit {key} on {doc} (acknowledged by {})",
                            node.name()
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Events of a rogue node's refused dials: they recur at every dial interval and are not
    /// work in flight between members. (A far timer, such as a blob's grace period, makes a
    /// run stop just after the periodic dials instead of just before.)
    pub(crate) fn rogue_noise(&self, event: &SimEvent) -> bool {
        match event {
            SimEvent::Dial { from, .. } | SimEvent::DialFailed { from, .. } => self.nodes[*from].rogue,
            SimEvent::Closed { conn, .. } | SimEvent::Packet { conn, .. } => self
                .net
                .ends(*conn)
                .is_some_and(|ends| ends.iter().any(|n| self.nodes[*n].rogue)),
            SimEvent::Io { .. } => false,
        }
    }

    /// Settled: every wanted link is up at both ends, every peer is up to date and no document
    /// is still pending (HS-SYNC-7).
    pub(crate) fn all_settled(&self) -> bool {
        let wanted = self.wanted_links();
        // A link is up when both ends hold an open session on the same live connection (a
        // half-open one, held at one end only, does not count).
        let open_at = |node: usize, conn: ConnId| {
            self.nodes[node]
                .host
                .core
                .as_ref()
                .is_some_and(|c| c.status().peers.iter().any(|p| p.conn == conn && p.open))
        };
        let connected: BTreeSet<(usize, usize)> = self
            .net
            .live()
            .filter(|(id, e)| open_at(e[0], *id) && open_at(e[1], *id))
            .map(|(_, e)| (e[0].min(e[1]), e[0].max(e[1])))
            .collect();
        wanted.iter().all(|l| connected.contains(l))
            && self
                .nodes
                .iter()
                .filter_map(|n| n.host.core.as_ref())
                .all(|core| {
                    let st = core.status();
                    st.peers.iter().all(|p| p.up_to_date) && st.docs_pending == 0
                })
    }

    /// Links that should be up: both ends running, admitted by each other, not cut.
    fn wanted_links(&self) -> BTreeSet<(usize, usize)> {
        let mut out = BTreeSet::new();
        for a in 0..self.nodes.len() {
            for b in (a + 1)..self.nodes.len() {
                if self.net.is_cut(a, b) || self.nodes[a].rogue || self.nodes[b].rogue {
                    continue;
                }
                if self.admits(a, b) && self.admits(b, a) {
                    out.insert((a, b));
                }
            }
        }
        out
    }
}
