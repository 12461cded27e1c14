//! Helpers shared by the integration tests. Each test binary uses a subset.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use humansync_protocol::{DeviceId, DocId};

/// The registry anchor of the tests (fixed seed).
pub(crate) fn anchor_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// A registered device (fixed seed).
pub(crate) fn device_key() -> SigningKey {
    SigningKey::from_bytes(&[8u8; 32])
}

/// The device id of a signing key (HS-ID-1).
pub(crate) fn id_of(key: &SigningKey) -> DeviceId {
    DeviceId::from(key)
}

/// A document id the test knows to be valid.
pub(crate) fn doc(text: &str) -> DocId {
    DocId::new(text).expect("test ids are valid")
}

/// Unsigned LEB128, as postcard writes every integer wider than a byte and every length.
///
/// Written independently of postcard so the tests check its output.
pub(crate) fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// 32 bytes that are not a valid Ed25519 point (HS-ID-1): the first `[y, 0, .., 0]` that fails to decompress.
pub(crate) fn invalid_point() -> [u8; 32] {
    (0u8..=255)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            bytes
        })
        .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
        .expect("about half of all y coordinates are not on the curve")
}
