//! What a login authorises ([`Context`], HS-PAIR-11) and the session key a login yields
//! ([`SessionKey`], HS-PAIR-12).

use humansync_protocol::DeviceId;

use super::{CONTEXT_PREFIX, PakeError, SESSION_KEY_LEN};

/// What a login authorises, bound into the OPAQUE key exchange as its `context`: if the two
/// sides disagree on any byte, the login fails on the device (SPEC.md HS-PAIR-11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context(Vec<u8>);

impl Context {
    /// Pairing `device` named `device_name` (as sent, before sanitising) with `server`.
    pub fn pair(server: &DeviceId, device: &DeviceId, device_name: &str) -> Context {
        let mut out = CONTEXT_PREFIX.to_vec();
        out.extend_from_slice(b"pair\0");
        out.extend_from_slice(server.as_bytes());
        out.extend_from_slice(device.as_bytes());
        out.extend_from_slice(device_name.as_bytes());
        Context(out)
    }

    /// Revoking `target` on `server`.
    pub fn revoke(server: &DeviceId, target: &DeviceId) -> Context {
        let mut out = CONTEXT_PREFIX.to_vec();
        out.extend_from_slice(b"revoke\0");
        out.extend_from_slice(server.as_bytes());
        out.extend_from_slice(target.as_bytes());
        Context(out)
    }

    /// The server's own start-up check of its record.
    pub(super) fn local_check() -> Context {
        let mut out = CONTEXT_PREFIX.to_vec();
        out.extend_from_slice(b"local-check\0");
        Context(out)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A context from its bytes, as a test vector gives it.
    pub fn from_bytes(bytes: Vec<u8>) -> Context {
        Context(bytes)
    }
}

/// A session key both sides hold after a successful login.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey([u8; SESSION_KEY_LEN]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// Domain of the MAC over a pairing answer.
pub const ANSWER_MAC_DOMAIN: &str = "humansync 2026 pairing answer mac v1";

impl SessionKey {
    /// The key's bytes (for test vectors; never sent).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The MAC of `bytes` under this key: BLAKE3 keyed by
    /// `derive_key(ANSWER_MAC_DOMAIN, session key)` (HS-PAIR-12).
    pub fn answer_mac(&self, bytes: &[u8]) -> [u8; 32] {
        let key = blake3::derive_key(ANSWER_MAC_DOMAIN, &self.0);
        *blake3::keyed_hash(&key, bytes).as_bytes()
    }

    /// Checks a MAC from [`SessionKey::answer_mac`] in constant time.
    pub fn verify_answer_mac(&self, bytes: &[u8], mac: &[u8; 32]) -> bool {
        let key = blake3::derive_key(ANSWER_MAC_DOMAIN, &self.0);
        // blake3::Hash's equality is constant-time.
        blake3::keyed_hash(&key, bytes) == blake3::Hash::from_bytes(*mac)
    }
}

pub(super) fn session_key(bytes: &[u8]) -> Result<SessionKey, PakeError> {
    <[u8; SESSION_KEY_LEN]>::try_from(bytes)
        .map(SessionKey)
        .map_err(|_| PakeError::Internal("session key length".into()))
}
