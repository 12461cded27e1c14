//! The transport's admission gate: the registry view the driver keeps current (HS-GATE-2, HS-GATE-3).

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock};

use humansync_protocol::{CloseCode, DeviceId};
use humansync_sansio::gate::Admission;

/// What the gate decides from: our own id and the registry's admitted and revoked sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateState {
    /// This node's device id; never admitted (no loopback sessions, HS-GATE-2).
    pub me: DeviceId,
    /// Devices admitted by the registry, the anchor included.
    pub admitted: BTreeSet<DeviceId>,
    /// Devices with a valid Revoked record; refused with [`CloseCode::REVOKED`] even if also in `admitted`.
    pub revoked: BTreeSet<DeviceId>,
}

impl GateState {
    /// The verdict on `peer` (SPEC.md's `gate`): a node whose own id is revoked refuses everyone
    /// with REVOKED, the anchor included (HS-GATE-5); otherwise `admit` (HS-GATE-2): revoked beats
    /// admitted, unknown ids and `me` are not registered.
    pub fn admission(&self, peer: &DeviceId) -> Admission {
        if self.revoked.contains(&self.me) {
            Admission::Reject(CloseCode::REVOKED)
        } else if *peer == self.me {
            Admission::Reject(CloseCode::NOT_REGISTERED)
        } else if self.revoked.contains(peer) {
            Admission::Reject(CloseCode::REVOKED)
        } else if self.admitted.contains(peer) {
            Admission::Admit
        } else {
            Admission::Reject(CloseCode::NOT_REGISTERED)
        }
    }
}

/// Decides admission for every incoming and outgoing connection on every ALPN (HS-GATE-3).
///
/// Cheap to clone; all clones share one state. The driver MUST call [`Gate::update`]
/// whenever its registry view changes, then [`super::Transport::disconnect_peer`] for every
/// peer that lost admission (HS-GATE-4): the gate only decides new connections and new blob
/// requests, it does not close open ones.
#[derive(Debug, Clone)]
pub struct Gate(Arc<RwLock<GateState>>);

impl Gate {
    /// A gate for the node `me` that admits nobody yet (an unpaired node, HS-GATE-2).
    pub fn new(me: DeviceId) -> Self {
        Gate(Arc::new(RwLock::new(GateState {
            me,
            admitted: BTreeSet::new(),
            revoked: BTreeSet::new(),
        })))
    }

    /// Replaces the admitted set (anchor included) and the revoked set.
    pub fn update(&self, admitted: BTreeSet<DeviceId>, revoked: BTreeSet<DeviceId>) {
        // A poisoned lock only means a writer panicked mid-assignment of plain sets; the data is still usable.
        let mut state = self.0.write().unwrap_or_else(PoisonError::into_inner);
        state.admitted = admitted;
        state.revoked = revoked;
    }

    /// The verdict on `peer` now.
    pub fn admission(&self, peer: &DeviceId) -> Admission {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .admission(peer)
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> GateState {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// This node's id.
    pub fn me(&self) -> DeviceId {
        self.0.read().unwrap_or_else(PoisonError::into_inner).me
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seed: u8) -> DeviceId {
        let public = iroh::SecretKey::from_bytes(&[seed; 32]).public();
        crate::transport::convert::device_id(&public).expect("iroh keys are valid points")
    }

    #[test]
    fn verdicts() {
        let gate = Gate::new(id(1));
        assert_eq!(
            gate.admission(&id(2)),
            Admission::Reject(CloseCode::NOT_REGISTERED)
        );
        gate.update([id(1), id(2), id(3)].into(), [id(3)].into());
        assert_eq!(gate.admission(&id(2)), Admission::Admit);
        // HS-GATE-2: revocation wins over a Device record; self is never admitted.
        assert_eq!(gate.admission(&id(3)), Admission::Reject(CloseCode::REVOKED));
        assert_eq!(
            gate.admission(&id(1)),
            Admission::Reject(CloseCode::NOT_REGISTERED)
        );
        assert_eq!(
            gate.admission(&id(4)),
            Admission::Reject(CloseCode::NOT_REGISTERED)
        );
    }

    #[test]
    fn a_node_revoked_itself_refuses_even_its_anchor() {
        // HS-GATE-5: the self-revocation check comes before admit, on every ALPN (blobs too).
        let gate = Gate::new(id(1));
        let anchor = id(9);
        gate.update([anchor, id(2)].into(), [id(1)].into());
        assert_eq!(gate.admission(&anchor), Admission::Reject(CloseCode::REVOKED));
        assert_eq!(gate.admission(&id(2)), Admission::Reject(CloseCode::REVOKED));
    }
}
