//! The JSON bodies of password logins (SPEC.md §5.2, HTTP API version 2): OPAQUE messages as
//! fixed-length lowercase hex, the login id, and the pairing answer sealed under the login's
//! session key.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{DeviceId, hex_text};

/// The HTTP API version this crate describes (SPEC.md §5.1). Version 1 sent the password.
pub const HTTP_API_VERSION: u32 = 2;
/// The `Authorization` scheme that carries a login's KE3 on `DELETE /devices/{id}` (HS-HTTP-4).
pub const OPAQUE_AUTH_SCHEME: &str = "HumanSync-OPAQUE";

/// Exactly `N` bytes, written as `2 * N` lowercase hex characters (either case accepted).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hex<const N: usize>(pub [u8; N]);

impl<const N: usize> std::fmt::Debug for Hex<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hex({})", hex_text::encode(&self.0))
    }
}

impl<const N: usize> std::fmt::Display for Hex<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex_text::encode(&self.0))
    }
}

impl<const N: usize> std::str::FromStr for Hex<N> {
    type Err = hex_text::HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        hex_text::decode_fixed::<N>(s).map(Hex)
    }
}

impl<const N: usize> Serialize for Hex<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex_text::encode(&self.0))
    }
}

impl<'de, const N: usize> Deserialize<'de> for Hex<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<const N: usize>;
        impl<const N: usize> serde::de::Visitor<'_> for Visit<N> {
            type Value = Hex<N>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} hex characters", 2 * N)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Hex<N>, E> {
                hex_text::decode_fixed::<N>(v).map(Hex).map_err(E::custom)
            }
        }
        d.deserialize_str(Visit::<N>)
    }
}

/// Bytes of OPAQUE's KE1 (HS-PAIR-11).
pub const KE1_LEN: usize = 96;
/// Bytes of OPAQUE's KE2.
pub const KE2_LEN: usize = 320;
/// Bytes of OPAQUE's KE3.
pub const KE3_LEN: usize = 64;
/// Bytes of a login id.
pub const LOGIN_ID_LEN: usize = 16;

/// A login id: names the server's half-finished login between start and finish.
pub type LoginId = Hex<LOGIN_ID_LEN>;

/// `POST /pair/start` request body (HS-HTTP-2).
///
/// Like every request body here it refuses unknown keys (`deny_unknown_fields`) and a member
/// given twice (serde's derive reports a duplicate field) with 400 (HS-HTTP-7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairStartRequest {
    /// The device's id.
    pub node_id: DeviceId,
    /// A human-readable device name, as the device will bind it into the login context; the
    /// server sanitises it for the record (HS-PAIR-4).
    pub device_name: String,
    /// OPAQUE KE1.
    pub ke1: Hex<KE1_LEN>,
}

/// `POST /devices/{node_id}/revoke/start` request body (HS-HTTP-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeStartRequest {
    /// OPAQUE KE1.
    pub ke1: Hex<KE1_LEN>,
}

/// The answer to a login start (`/pair/start`, `/devices/{id}/revoke/start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginStartResponse {
    /// Names this login in the finishing request.
    pub login_id: LoginId,
    /// The server's id, bound into the login context: a device that is told another id than
    /// the server used fails the login (HS-PAIR-11).
    pub server_node_id: DeviceId,
    /// OPAQUE KE2.
    pub ke2: Hex<KE2_LEN>,
}

/// `POST /pair/finish` request body (HS-HTTP-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairFinishRequest {
    /// From the start's answer.
    pub login_id: LoginId,
    /// OPAQUE KE3.
    pub ke3: Hex<KE3_LEN>,
}

/// A pairing answer with its authenticator (HS-PAIR-12): `answer` is the JSON text of a
/// [`crate::http::PairResponse`], carried as a string so that its exact bytes are authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedAnswer {
    /// The `PairResponse` JSON text.
    pub answer: String,
    /// For a password pairing: the 32-byte MAC under the login's session key, hex. For an
    /// invitation: the server's 64-byte Ed25519 signature, hex.
    pub auth: String,
}

/// The parts of `Authorization: HumanSync-OPAQUE login_id=<32 hex>,ke3=<128 hex>` (HS-HTTP-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueAuth {
    /// The login started for this request.
    pub login_id: LoginId,
    /// OPAQUE KE3.
    pub ke3: Hex<KE3_LEN>,
}

impl OpaqueAuth {
    /// The header value.
    pub fn to_header(&self) -> String {
        format!("{OPAQUE_AUTH_SCHEME} login_id={},ke3={}", self.login_id, self.ke3)
    }

    /// Parses a header value: the scheme, one space, `login_id` and `ke3` once each, in any order.
    pub fn parse(header: &str) -> Option<OpaqueAuth> {
        if header.len() > 512 {
            return None;
        }
        let rest = header.strip_prefix(OPAQUE_AUTH_SCHEME)?.strip_prefix(' ')?;
        let (mut login_id, mut ke3) = (None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            let slot = match k {
                "login_id" => &mut login_id,
                "ke3" => &mut ke3,
                _ => return None,
            };
            if slot.replace(v).is_some() {
                return None;
            }
        }
        Some(OpaqueAuth {
            login_id: login_id?.parse().ok()?,
            ke3: ke3?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_fields_have_exact_lengths() {
        let ok: Hex<2> = serde_json::from_str("\"0aFf\"").expect("hex");
        assert_eq!(ok.0, [0x0a, 0xff]);
        assert_eq!(serde_json::to_string(&ok).expect("json"), "\"0aff\"");
        assert!(serde_json::from_str::<Hex<2>>("\"0a\"").is_err());
        assert!(serde_json::from_str::<Hex<2>>("\"0aff00\"").is_err());
        assert!(serde_json::from_str::<Hex<2>>("\"zzzz\"").is_err());
        assert!(serde_json::from_str::<Hex<2>>("1234").is_err());
    }

    #[test]
    fn the_opaque_authorization_header_round_trips() {
        let auth = OpaqueAuth {
            login_id: Hex([7; 16]),
            ke3: Hex([9; 64]),
        };
        assert_eq!(OpaqueAuth::parse(&auth.to_header()), Some(auth.clone()));
        let swapped = format!(
            "{OPAQUE_AUTH_SCHEME} ke3={}, login_id={}",
            auth.ke3, auth.login_id
        );
        assert_eq!(OpaqueAuth::parse(&swapped), Some(auth.clone()));
        for bad in [
            "Basic YWRtaW46cHc=".to_owned(),
            format!("{OPAQUE_AUTH_SCHEME} login_id={}", auth.login_id),
            format!(
                "{OPAQUE_AUTH_SCHEME} login_id={0},login_id={0},ke3={1}",
                auth.login_id, auth.ke3
            ),
            format!(
                "{OPAQUE_AUTH_SCHEME} login_id={},ke3={},x=1",
                auth.login_id, auth.ke3
            ),
            format!("{OPAQUE_AUTH_SCHEME} login_id=00,ke3={}", auth.ke3),
        ] {
            assert_eq!(OpaqueAuth::parse(&bad), None, "{bad}");
        }
    }
}
