//! Fixed keys and values for vector generation: everything derives from names,
//! so regenerating gives identical files.
//!
//! A key named `n` has the Ed25519 seed `BLAKE3("humansync-conformance/key/" || n)`;
//! Ed25519 signing is deterministic (RFC 8032), so signatures are fixed too.

use ed25519_dalek::SigningKey;
use humansync_protocol::digest::heads_digest;
use humansync_protocol::{ChangeHash, DeviceId, DocDigest};

/// The deterministic signing key named `name`.
pub fn key(name: &str) -> SigningKey {
    let seed = blake3::hash(format!("humansync-conformance/key/{name}").as_bytes());
    SigningKey::from_bytes(seed.as_bytes())
}

/// The device id of [`key`]`(name)`.
pub fn id(name: &str) -> DeviceId {
    DeviceId::from(&key(name))
}

/// A fixed 32-byte value named `name` (change hashes, blob hashes).
pub fn bytes32(name: &str) -> [u8; 32] {
    *blake3::hash(format!("humansync-conformance/bytes/{name}").as_bytes()).as_bytes()
}

/// A fixed change hash named `name`.
pub fn change(name: &str) -> ChangeHash {
    ChangeHash(bytes32(name))
}

/// The digest of a document whose only head is [`change`]`(name)`.
pub fn digest(name: &str) -> DocDigest {
    heads_digest(&[change(name)])
}

/// A fixed 16-byte value named `name`.
pub fn bytes16(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes32(name)[..16]);
    out
}
