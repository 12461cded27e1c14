//! Fixed-size identifiers: devices, blobs, changes, digests (SPEC.md §1).

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::hex_text::{self, HexError};

/// Why a device id was rejected (HS-ID-1, HS-ID-2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceIdError {
    /// The text form is not 64 hex characters.
    #[error("device id text: {0}")]
    Hex(#[from] HexError),
    /// The 32 bytes are not a valid Ed25519 public key.
    #[error("device id is not a valid Ed25519 public key")]
    NotAKey,
}

/// A device id: the device's iroh Ed25519 public key (HS-ID-1).
///
/// Only valid curve points can be constructed; the text form is 64 lowercase
/// hex characters, identical to iroh's `EndpointId` display (HS-ID-2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId([u8; 32]);

impl DeviceId {
    /// Checks that `bytes` is a valid Ed25519 public key (HS-ID-1).
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, DeviceIdError> {
        ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| DeviceIdError::NotAKey)?;
        Ok(DeviceId(bytes))
    }

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The Ed25519 verifying key. Construction checked the point, so this cannot fail.
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        // from_bytes above only admits keys that decompress; the error arm is unreachable.
        ed25519_dalek::VerifyingKey::from_bytes(&self.0)
            .unwrap_or_else(|_| unreachable!("checked at construction"))
    }

    /// Verifies an Ed25519 signature by this device over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.verifying_key().verify_strict(message, &sig).is_ok()
    }
}

impl From<&ed25519_dalek::SigningKey> for DeviceId {
    fn from(key: &ed25519_dalek::SigningKey) -> Self {
        DeviceId(key.verifying_key().to_bytes())
    }
}

impl std::str::FromStr for DeviceId {
    type Err = DeviceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceId::from_bytes(hex_text::decode_fixed::<32>(s)?)
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex_text::encode(&self.0))
    }
}

impl std::fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceId({})", &hex_text::encode(&self.0[..5]))
    }
}

impl Serialize for DeviceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            text.parse().map_err(de::Error::custom)
        } else {
            DeviceId::from_bytes(<[u8; 32]>::deserialize(d)?).map_err(de::Error::custom)
        }
    }
}

macro_rules! byte_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = HexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                hex_text::decode_fixed::<$len>(s).map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&hex_text::encode(&self.0))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), &hex_text::encode(&self.0[..4.min($len)]))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() { s.collect_str(self) } else { self.0.serialize(s) }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    text.parse().map_err(de::Error::custom)
                } else {
                    <[u8; $len]>::deserialize(d).map($name)
                }
            }
        }
    };
}

byte_id!(
    /// A blob's BLAKE3 hash, as iroh-blobs names it (HS-BLOB-1).
    BlobHash,
    32
);
byte_id!(
    /// An Automerge change hash (SHA-256 of the change), as found in a document's heads.
    ChangeHash,
    32
);
byte_id!(
    /// A 16-byte digest of a document's state: its sorted heads, or [`DocDigest::TOMBSTONE`] (HS-RECON-1).
    DocDigest,
    16
);
byte_id!(
    /// The XOR of item fingerprints over a range of documents (HS-RECON-2).
    Fingerprint,
    16
);

impl DocDigest {
    /// The digest of a deleted document (HS-DOC-5).
    pub const TOMBSTONE: DocDigest = DocDigest([0xff; 16]);

    /// True for [`DocDigest::TOMBSTONE`].
    pub fn is_tombstone(&self) -> bool {
        *self == Self::TOMBSTONE
    }
}

impl Fingerprint {
    /// The fingerprint of the empty range.
    pub const EMPTY: Fingerprint = Fingerprint([0; 16]);

    /// Folds another fingerprint into this one (XOR; its own inverse).
    pub fn xor(&mut self, other: &Fingerprint) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a ^= b;
        }
    }
}

impl BlobHash {
    /// Parses a blob reference `hsblob:<64 hex>` as stored in documents (HS-BLOB-1).
    pub fn from_reference(text: &str) -> Option<BlobHash> {
        text.strip_prefix(crate::BLOB_REF_PREFIX)?.parse().ok()
    }

    /// The blob reference text `hsblob:<64 lowercase hex>` (HS-BLOB-1).
    pub fn to_reference(&self) -> String {
        format!("{}{}", crate::BLOB_REF_PREFIX, self)
    }
}
