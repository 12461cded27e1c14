//! What the server does with a pairing request once the password check is known (HS-HTTP-2).

use humansync_protocol::DeviceId;
use humansync_protocol::http::sanitize_device_name;

use crate::registry::Registry;

/// The server's answer to a `POST /pair` whose password check result is known (HS-HTTP-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairDecision {
    /// 401 `wrong_password`; feed [`super::PairingGuard::record_failure`].
    WrongPassword,
    /// 400 `bad_request`: nothing remains of the name after sanitising (HS-PAIR-4).
    BadName,
    /// 400 `bad_request`: the request names the anchor (the server itself).
    IsAnchor,
    /// 403 `revoked`: this id was revoked and can never pair again (HS-REG-4).
    Revoked,
    /// 200 with the existing records: pairing is idempotent for a registered,
    /// unrevoked id (HS-HTTP-2); see [`Registry::records_for`].
    AlreadyRegistered,
    /// 200 after the anchor signs and stores a new Device record with this name.
    Register {
        /// The name after [`sanitize_device_name`] (HS-PAIR-4).
        name: String,
    },
}

/// Decides what to do with a pairing request from `request_node` (HS-HTTP-2, HS-PAIR-4).
///
/// The password comes first, so that a caller without it learns nothing about
/// the registry or its request. Registry state comes before the name: a
/// revoked id is refused whatever it sends, and re-pairing a registered id
/// returns the existing record whatever name it sends now.
pub fn decide_pair(
    registry: &Registry,
    request_node: &DeviceId,
    raw_name: &str,
    password_ok: bool,
) -> PairDecision {
    if !password_ok {
        return PairDecision::WrongPassword;
    }
    if registry.anchor() == Some(*request_node) {
        return PairDecision::IsAnchor;
    }
    if registry.is_revoked(request_node) {
        return PairDecision::Revoked;
    }
    if registry.is_registered(request_node) {
        return PairDecision::AlreadyRegistered;
    }
    match sanitize_device_name(raw_name) {
        Some(name) => PairDecision::Register { name },
        None => PairDecision::BadName,
    }
}
