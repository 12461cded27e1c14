//! The admission gate: one pure policy over the registry view (HS-GATE-2, HS-GATE-5).
//!
//! The transport proves who the peer is (HS-GATE-1); [`GateView::admit`] decides whether to let
//! it in. It is the only admission function: the core keeps a [`GateView`] of its registry and
//! hands a copy to the runtime whenever it changes ([`crate::Output::Gate`]), so the runtime's
//! connection hook, its blob provider, the dialer ([`crate::Output::Dial`]) and the simulation
//! all decide with the same code. The runtime calls it after the TLS handshake and before
//! accepting any application stream, for every ALPN (HS-GATE-3); the core re-applies it to every
//! open session whenever the registry changes (HS-GATE-4).

use std::collections::BTreeSet;

use humansync_protocol::{CloseCode, DeviceId};

use crate::registry::Registry;

/// The gate's verdict on a peer (HS-GATE-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Let the peer in.
    Admit,
    /// Close the connection with this code and send nothing (HS-CLOSE-2).
    Reject(CloseCode),
}

impl Admission {
    /// True for [`Admission::Admit`].
    pub fn is_admit(self) -> bool {
        self == Admission::Admit
    }
}

/// What admission is decided from: the node's own id and the parts of its registry view the
/// rule reads. Small and cheap to clone; built from a [`Registry`] with [`GateView::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateView {
    me: DeviceId,
    anchor: Option<DeviceId>,
    /// Devices with a valid Device record and no valid Revoked record, `me` excluded.
    registered: BTreeSet<DeviceId>,
    /// Devices with a valid Revoked record.
    revoked: BTreeSet<DeviceId>,
}

impl GateView {
    /// The view of a node `me` with the registry `registry`.
    pub fn new(me: DeviceId, registry: &Registry) -> Self {
        let mut registered = BTreeSet::new();
        let mut revoked = BTreeSet::new();
        for (id, status) in registry.devices() {
            if status.revoked_at_ms.is_some() {
                revoked.insert(*id);
            } else if registry.is_registered(id) {
                registered.insert(*id);
            }
        }
        GateView {
            me,
            anchor: registry.anchor(),
            registered,
            revoked,
        }
    }

    /// The view of an unpaired node: it admits nobody.
    pub fn unpaired(me: DeviceId) -> Self {
        GateView {
            me,
            anchor: None,
            registered: BTreeSet::new(),
            revoked: BTreeSet::new(),
        }
    }

    /// A view from its parts, for tools and tests that run a transport without a core: `anchor`,
    /// the `registered` devices and the `revoked` ones.
    pub fn from_parts(
        me: DeviceId,
        anchor: Option<DeviceId>,
        registered: BTreeSet<DeviceId>,
        revoked: BTreeSet<DeviceId>,
    ) -> Self {
        GateView {
            me,
            anchor,
            registered,
            revoked,
        }
    }

    /// This node's id.
    pub fn me(&self) -> DeviceId {
        self.me
    }

    /// The registry anchor, once paired.
    pub fn anchor(&self) -> Option<DeviceId> {
        self.anchor
    }

    /// True once this node's own view holds a valid Revoked record for itself (HS-GATE-5).
    pub fn self_revoked(&self) -> bool {
        self.revoked.contains(&self.me)
    }

    /// The verdict on `peer` (HS-GATE-2, HS-GATE-5):
    ///
    /// - a node revoked in its own view admits nobody ([`CloseCode::REVOKED`]);
    /// - an unpaired node, and every node towards itself (no loopback sessions), refuse with
    ///   [`CloseCode::NOT_REGISTERED`];
    /// - the anchor is admitted; a revoked peer gets [`CloseCode::REVOKED`] (revocation wins
    ///   over a Device record); a registered peer is admitted; anyone else gets
    ///   [`CloseCode::NOT_REGISTERED`].
    pub fn admit(&self, peer: &DeviceId) -> Admission {
        if self.self_revoked() {
            return Admission::Reject(CloseCode::REVOKED);
        }
        if *peer == self.me {
            return Admission::Reject(CloseCode::NOT_REGISTERED);
        }
        let Some(anchor) = self.anchor else {
            return Admission::Reject(CloseCode::NOT_REGISTERED);
        };
        if *peer == anchor {
            Admission::Admit
        } else if self.revoked.contains(peer) {
            Admission::Reject(CloseCode::REVOKED)
        } else if self.registered.contains(peer) {
            Admission::Admit
        } else {
            Admission::Reject(CloseCode::NOT_REGISTERED)
        }
    }

    /// Every peer [`GateView::admit`] admits, in id order (the peers a node keeps sessions with).
    pub fn admitted(&self) -> impl Iterator<Item = DeviceId> + '_ {
        self.anchor
            .into_iter()
            .chain(self.registered.iter().copied())
            .filter(|p| self.admit(p).is_admit())
            .collect::<BTreeSet<_>>()
            .into_iter()
    }
}

/// Decides whether `peer` may hold a session with the node `me` whose registry view is
/// `registry` (HS-GATE-2, HS-GATE-5): [`GateView::admit`] of that view.
pub fn admit(peer: &DeviceId, me: &DeviceId, registry: &Registry) -> Admission {
    GateView::new(*me, registry).admit(peer)
}
