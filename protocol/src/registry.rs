//! Signed device-registry records carried in the `_devices` document (SPEC.md §4).
//!
//! Only the registry anchor (the server) signs records. A record is verified
//! over its payload bytes exactly as received (HS-REG-1); anything that fails
//! to decode or verify is ignored by readers (HS-REG-3).

use serde::{Deserialize, Serialize};

use crate::bounded;
use crate::limits::{MAX_DEVICE_NAME_LEN, MAX_RECORD_LEN};
use crate::{DeviceId, hex_text};

/// Domain separation prefix of every registry signature (HS-REG-1).
pub const REGISTRY_SIGNING_CONTEXT: &[u8] = b"humansync/registry/v1\0";

/// What a registry record says (HS-REG-1). Variants are append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistryRecord {
    /// 0 — `device` is registered.
    Device {
        /// The device.
        device: DeviceId,
        /// Its sanitised name (HS-PAIR-4).
        #[serde(deserialize_with = "bounded::string::<_, MAX_DEVICE_NAME_LEN>")]
        name: String,
        /// When it paired, unix milliseconds.
        paired_at_ms: u64,
    },
    /// 1 — `device` is revoked forever (HS-REG-4).
    Revoked {
        /// The device.
        device: DeviceId,
        /// When it was revoked, unix milliseconds.
        revoked_at_ms: u64,
    },
}

impl RegistryRecord {
    /// The device the record is about.
    pub fn device(&self) -> DeviceId {
        match self {
            RegistryRecord::Device { device, .. } | RegistryRecord::Revoked { device, .. } => *device,
        }
    }

    /// Signs the record with the anchor's key (HS-REG-1).
    pub fn sign(&self, anchor: &ed25519_dalek::SigningKey) -> Result<SignedRecord, RecordError> {
        use ed25519_dalek::Signer;
        // Readers reject names over MAX_DEVICE_NAME_LEN (HS-PAIR-4); never sign one.
        if let RegistryRecord::Device { name, .. } = self
            && name.len() > MAX_DEVICE_NAME_LEN
        {
            return Err(RecordError::Malformed);
        }
        let payload = postcard::to_allocvec(self).map_err(|_| RecordError::Malformed)?;
        if payload.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge(payload.len()));
        }
        let signature = anchor.sign(&signing_input(&payload)).to_bytes();
        Ok(SignedRecord { payload, signature })
    }
}

/// A record payload and the anchor's signature over it (HS-REG-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRecord {
    /// postcard(RegistryRecord), at most [`MAX_RECORD_LEN`] bytes.
    #[serde(
        serialize_with = "bounded::ser_bytes",
        deserialize_with = "bounded::bytes::<_, MAX_RECORD_LEN>"
    )]
    pub payload: Vec<u8>,
    /// Ed25519 signature over [`REGISTRY_SIGNING_CONTEXT`] || payload.
    #[serde(with = "signature_bytes")]
    pub signature: [u8; 64],
}

/// Why a signed record was rejected (HS-REG-1, HS-REG-3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not a SignedRecord or the payload not exactly one RegistryRecord
    /// (when signing: the record breaks a field bound, so readers would reject it).
    #[error("malformed registry record")]
    Malformed,
    /// The payload exceeds [`MAX_RECORD_LEN`].
    #[error("registry record payload of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The signature does not verify under the anchor's key.
    #[error("registry record signature does not verify")]
    BadSignature,
}

impl SignedRecord {
    /// Decodes a SignedRecord from its postcard bytes (as stored in `_devices`).
    pub fn decode(bytes: &[u8]) -> Result<SignedRecord, RecordError> {
        let (rec, rest) =
            postcard::take_from_bytes::<SignedRecord>(bytes).map_err(|_| RecordError::Malformed)?;
        if !rest.is_empty() {
            return Err(RecordError::Malformed);
        }
        Ok(rec)
    }

    /// The postcard bytes stored as the value in `_devices` (HS-REG-2).
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain byte fields into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// The key under which this record is stored in `_devices`: lowercase hex BLAKE3 of [`Self::encode`] (HS-REG-2).
    pub fn key(&self) -> String {
        hex_text::encode(blake3::hash(&self.encode()).as_bytes())
    }

    /// Verifies the anchor's signature, then decodes the payload (HS-REG-1).
    pub fn verify(&self, anchor: &DeviceId) -> Result<RegistryRecord, RecordError> {
        if self.payload.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge(self.payload.len()));
        }
        if !anchor.verify(&signing_input(&self.payload), &self.signature) {
            return Err(RecordError::BadSignature);
        }
        let (record, rest) =
            postcard::take_from_bytes::<RegistryRecord>(&self.payload).map_err(|_| RecordError::Malformed)?;
        if !rest.is_empty() {
            return Err(RecordError::Malformed);
        }
        Ok(record)
    }
}

/// The exact bytes the anchor signs: context || payload (HS-REG-1).
pub fn signing_input(payload: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(REGISTRY_SIGNING_CONTEXT.len() + payload.len());
    input.extend_from_slice(REGISTRY_SIGNING_CONTEXT);
    input.extend_from_slice(payload);
    input
}

mod signature_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

    pub(super) fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        // serde implements arrays only up to 32 elements: encode as two fixed halves.
        let (a, b) = sig.split_at(32);
        let a: &[u8; 32] = a.try_into().map_err(serde::ser::Error::custom)?;
        let b: &[u8; 32] = b.try_into().map_err(serde::ser::Error::custom)?;
        (a, b).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let (a, b) = <([u8; 32], [u8; 32])>::deserialize(d).map_err(de::Error::custom)?;
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&a);
        out[32..].copy_from_slice(&b);
        Ok(out)
    }
}
