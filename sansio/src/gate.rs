//! The admission gate: a pure policy over the registry view (HS-GATE-2).
//!
//! The transport proves who the peer is (HS-GATE-1); this function decides
//! whether to let it in. The runtime calls it after the TLS handshake and
//! before accepting any application stream, for every ALPN (HS-GATE-3), and
//! again for every open session whenever the registry changes (HS-GATE-4).

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

/// Decides whether `peer` may hold a session with the node `me` (HS-GATE-2).
///
/// Admit iff `peer != me` and (`peer` is the anchor, or `peer` has a valid
/// Device record and no valid Revoked record). A revoked peer gets
/// [`CloseCode::REVOKED`]; an unknown peer, any peer of a node with no anchor
/// (unpaired) and the node itself (no loopback sessions) get
/// [`CloseCode::NOT_REGISTERED`].
pub fn admit(peer: &DeviceId, me: &DeviceId, registry: &Registry) -> Admission {
    if peer == me {
        return Admission::Reject(CloseCode::NOT_REGISTERED);
    }
    let Some(anchor) = registry.anchor() else {
        return Admission::Reject(CloseCode::NOT_REGISTERED);
    };
    if *peer == anchor {
        return Admission::Admit;
    }
    if registry.is_revoked(peer) {
        Admission::Reject(CloseCode::REVOKED)
    } else if registry.is_registered(peer) {
        Admission::Admit
    } else {
        Admission::Reject(CloseCode::NOT_REGISTERED)
    }
}
