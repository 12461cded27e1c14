//! The transport's admission gate: the core's admission view, kept current by the driver
//! (HS-GATE-2, HS-GATE-3). It decides with [`GateView::admit`], the one admission function.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock};

use humansync_protocol::DeviceId;
use humansync_sansio::gate::{Admission, GateView};

/// Decides admission for every incoming and outgoing connection on every ALPN (HS-GATE-3).
///
/// Cheap to clone; all clones share one view. The driver MUST call [`Gate::set`] with every
/// view the core emits ([`humansync_sansio::Output::Gate`]), then
/// [`super::Transport::disconnect_peer`] for every peer that lost admission (HS-GATE-4): the
/// gate only decides new connections and new blob requests, it does not close open ones.
#[derive(Debug, Clone)]
pub struct Gate(Arc<RwLock<GateView>>);

impl Gate {
    /// A gate for the node `me` that admits nobody yet (an unpaired node, HS-GATE-2).
    pub fn new(me: DeviceId) -> Self {
        Gate(Arc::new(RwLock::new(GateView::unpaired(me))))
    }

    /// Replaces the view (its `me` must be this gate's).
    pub fn set(&self, view: GateView) {
        // A poisoned lock only means a writer panicked mid-assignment; the data is still usable.
        let mut state = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if view.me() == state.me() {
            *state = view;
        }
    }

    /// For tools and tests that run a transport without a core: admits `admitted` and refuses
    /// `revoked` (with CLOSE_REVOKED, even if also admitted), as an anchor with that registry would.
    pub fn update(&self, admitted: BTreeSet<DeviceId>, revoked: BTreeSet<DeviceId>) {
        let me = self.me();
        self.set(GateView::from_parts(me, Some(me), admitted, revoked));
    }

    /// The verdict on `peer` now.
    pub fn admission(&self, peer: &DeviceId) -> Admission {
        self.0.read().unwrap_or_else(PoisonError::into_inner).admit(peer)
    }

    /// A copy of the current view.
    pub fn snapshot(&self) -> GateView {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// This node's id.
    pub fn me(&self) -> DeviceId {
        self.0.read().unwrap_or_else(PoisonError::into_inner).me()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync_protocol::CloseCode;

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
        // HS-GATE-5: a node revoked in its own view admits nobody.
        gate.update([id(2)].into(), [id(1)].into());
        assert_eq!(gate.admission(&id(2)), Admission::Reject(CloseCode::REVOKED));
    }
}
