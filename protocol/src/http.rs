//! The pairing HTTP API's JSON bodies and its request-signing scheme (SPEC.md §5).

use serde::{Deserialize, Serialize};

use crate::limits::{HTTP_AUTH_WINDOW_MS, MAX_DEVICE_NAME_LEN};
use crate::{DeviceId, hex_text};

/// Domain separation prefix of signed HTTP requests (HS-HTTP-3).
pub const HTTP_SIGNING_CONTEXT: &[u8] = b"humansync/http/v1\0";
/// The `Authorization` scheme of a signed request (HS-HTTP-3).
pub const HTTP_AUTH_SCHEME: &str = "HumanSync-Ed25519";

/// POST /pair request body of HTTP API version 1, which sent the password in clear. A version-2
/// server refuses it unread (HS-HTTP-8); kept so that tests and vectors can show what an old
/// client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    /// The device's id.
    pub node_id: DeviceId,
    /// The server password.
    pub password: String,
    /// A human-readable device name; sanitised by the server (HS-PAIR-4).
    pub device_name: String,
}

/// POST /pair response body (HS-HTTP-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairResponse {
    /// The server's id: the registry anchor the device must trust (HS-PAIR-6).
    pub server_node_id: DeviceId,
    /// Direct addresses of the server's iroh endpoint, `ip:port`.
    pub server_addrs: Vec<String>,
    /// The relay the server uses, if any.
    pub relay_url: Option<String>,
    /// Every registered and revoked device.
    pub devices: Vec<DeviceInfo>,
    /// Every registry record, hex of postcard(SignedRecord), for the device's `_devices`.
    pub records: Vec<String>,
}

/// A device as the HTTP API lists it (HS-HTTP-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The device's id.
    pub node_id: DeviceId,
    /// Its name.
    pub name: String,
    /// When it paired, unix ms.
    pub paired_at_ms: u64,
    /// When it was revoked, unix ms; absent while active.
    pub revoked_at_ms: Option<u64>,
    /// Addresses it was last seen at, `ip:port`.
    pub addrs: Vec<String>,
}

/// GET /devices response body (HS-HTTP-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesResponse {
    /// Every registered and revoked device.
    pub devices: Vec<DeviceInfo>,
}

/// DELETE /devices/{node_id} response body (HS-HTTP-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeResponse {
    /// The revoked device.
    pub node_id: DeviceId,
    /// When, unix ms.
    pub revoked_at_ms: u64,
    /// The signed revocation record, hex of postcard(SignedRecord).
    pub record: String,
}

/// GET /health response body (HS-HTTP-5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// Always `"ok"`.
    pub status: String,
    /// The server's id.
    pub node_id: DeviceId,
    /// The server's version.
    pub version: String,
    /// The HTTP API version ([`crate::login::HTTP_API_VERSION`]); absent from version-1 servers.
    #[serde(default)]
    pub api_version: Option<u32>,
}

/// Every error response body: `{"error":{"code":..,"message":..}}` (HS-HTTP-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inner part of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable snake_case code: see [`error_codes`].
    pub code: String,
    /// Human-readable detail.
    pub message: String,
    /// With `revoked` (403) answering a request the revoked device signed itself: its Revoked
    /// record, hex of postcard(SignedRecord), signed by the server. The device learns of its
    /// revocation from it (HS-GATE-7, HS-GATE-5) even though every peer now refuses it before any
    /// `_devices` sync could tell it. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

/// Stable error codes of the HTTP API (HS-HTTP-1).
pub mod error_codes {
    /// 400: bad JSON, bad node id, bad device name.
    pub const BAD_REQUEST: &str = "bad_request";
    /// 401: the password is wrong.
    pub const WRONG_PASSWORD: &str = "wrong_password";
    /// 401: a signed request failed verification.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// 403: the device is revoked.
    pub const REVOKED: &str = "revoked";
    /// 404: no such device.
    pub const NOT_FOUND: &str = "not_found";
    /// 413: body over the limit.
    pub const BODY_TOO_LARGE: &str = "body_too_large";
    /// 429: too many attempts; see `Retry-After`.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// 500: a server fault.
    pub const INTERNAL: &str = "internal";
    /// 408: the request body did not arrive in time.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// 410 / 401: a request of HTTP API version 1 (the password in clear); update the client.
    pub const UPGRADE_REQUIRED: &str = "upgrade_required";
    /// 401: the login id is unknown, used or expired; start the login again.
    pub const LOGIN_EXPIRED: &str = "login_expired";
    /// 401 / 404 / 410: the invitation is unknown, used, expired or revoked.
    pub const INVITATION_INVALID: &str = "invitation_invalid";
}

/// Cleans a client-supplied device name (HS-PAIR-4): control characters
/// removed, whitespace trimmed, cut to [`MAX_DEVICE_NAME_LEN`] bytes on a
/// character boundary. `None` when nothing remains.
pub fn sanitize_device_name(raw: &str) -> Option<String> {
    let cleaned: String = raw.chars().filter(|c| !c.is_control()).collect();
    let trimmed = cleaned.trim();
    let mut end = trimmed.len().min(MAX_DEVICE_NAME_LEN);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    let name = trimmed[..end].trim_end();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The parts of a signed-request `Authorization` header (HS-HTTP-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAuth {
    /// The signing device.
    pub node_id: DeviceId,
    /// Unix ms at signing.
    pub ts_ms: u64,
    /// 16 random bytes, unique per request.
    pub nonce: [u8; 16],
    /// Ed25519 signature over [`signed_request_input`].
    pub signature: [u8; 64],
}

/// Why a signed request was refused (HS-HTTP-3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The header is not `HumanSync-Ed25519 node_id=..,ts=..,nonce=..,sig=..`.
    #[error("malformed authorization header: {0}")]
    Malformed(&'static str),
    /// The timestamp is outside the accepted window.
    #[error("request timestamp outside the accepted window")]
    Stale,
    /// The signature does not verify.
    #[error("request signature does not verify")]
    BadSignature,
}

/// The exact bytes a device signs for a request (HS-HTTP-3).
pub fn signed_request_input(method: &str, path: &str, ts_ms: u64, nonce: &[u8; 16]) -> Vec<u8> {
    let mut out = HTTP_SIGNING_CONTEXT.to_vec();
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(path.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(ts_ms.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hex_text::encode(nonce).as_bytes());
    out
}

impl SignedAuth {
    /// Signs a request as `key`'s device.
    pub fn sign(
        key: &ed25519_dalek::SigningKey,
        method: &str,
        path: &str,
        ts_ms: u64,
        nonce: [u8; 16],
    ) -> Self {
        use ed25519_dalek::Signer;
        let signature = key
            .sign(&signed_request_input(method, path, ts_ms, &nonce))
            .to_bytes();
        SignedAuth {
            node_id: DeviceId::from(key),
            ts_ms,
            nonce,
            signature,
        }
    }

    /// The header value.
    pub fn to_header(&self) -> String {
        format!(
            "{HTTP_AUTH_SCHEME} node_id={},ts={},nonce={},sig={}",
            self.node_id,
            self.ts_ms,
            hex_text::encode(&self.nonce),
            hex_text::encode(&self.signature)
        )
    }

    /// Parses a header value (at most 512 bytes).
    pub fn parse(header: &str) -> Result<Self, AuthError> {
        if header.len() > 512 {
            return Err(AuthError::Malformed("header too long"));
        }
        let rest = header
            .strip_prefix(HTTP_AUTH_SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(AuthError::Malformed("scheme"))?;
        let (mut node_id, mut ts, mut nonce, mut sig) = (None, None, None, None);
        for part in rest.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or(AuthError::Malformed("parameter"))?;
            let slot = match k {
                "node_id" => &mut node_id,
                "ts" => &mut ts,
                "nonce" => &mut nonce,
                "sig" => &mut sig,
                _ => return Err(AuthError::Malformed("unknown parameter")),
            };
            if slot.replace(v).is_some() {
                return Err(AuthError::Malformed("repeated parameter"));
            }
        }
        let node_id = node_id.ok_or(AuthError::Malformed("node_id missing"))?;
        let ts = ts.ok_or(AuthError::Malformed("ts missing"))?;
        let nonce = nonce.ok_or(AuthError::Malformed("nonce missing"))?;
        let sig = sig.ok_or(AuthError::Malformed("sig missing"))?;
        if ts.is_empty() || ts.len() > 20 || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::Malformed("ts"));
        }
        Ok(SignedAuth {
            node_id: node_id.parse().map_err(|_| AuthError::Malformed("node_id"))?,
            ts_ms: ts.parse().map_err(|_| AuthError::Malformed("ts"))?,
            nonce: hex_text::decode_fixed::<16>(nonce).map_err(|_| AuthError::Malformed("nonce"))?,
            signature: hex_text::decode_fixed::<64>(sig).map_err(|_| AuthError::Malformed("sig"))?,
        })
    }

    /// Checks the time window and the signature for `method` and `path` at wall-clock `now_ms` (HS-HTTP-3).
    ///
    /// Nonce replay and registration are the server's to check.
    pub fn verify(&self, method: &str, path: &str, now_ms: u64) -> Result<(), AuthError> {
        if now_ms.abs_diff(self.ts_ms) > HTTP_AUTH_WINDOW_MS {
            return Err(AuthError::Stale);
        }
        let input = signed_request_input(method, path, self.ts_ms, &self.nonce);
        if !self.node_id.verify(&input, &self.signature) {
            return Err(AuthError::BadSignature);
        }
        Ok(())
    }
}
