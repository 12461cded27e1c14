//! Data at rest (issue 21, HS-REST-1): the per-device data key and the subkeys derived from it.
//!
//! One random 256-bit [`DataKey`] protects a device's store. It is never used directly: HKDF-SHA256
//! derives one subkey per purpose ([`Purpose`]) — document-store records (AES-256-GCM), file
//! names (keyed BLAKE3), blob bytes (the sealed blob store, HS-REST-6) and the key check that lets a store
//! tell a wrong key from corruption. Where the key comes from is [`KeySource`] (source.rs); where
//! a device keeps its own secrets (files or the OS keychain) is device.rs; rotation re-encrypts a
//! store under a new key ([`crate::store::DocStore::rekey`]).

pub(crate) mod device;
pub mod keychain;
pub(crate) mod keychain_ref;
pub(crate) mod nonces;
pub(crate) mod source;

pub use device::{DeviceSecret, KeyPlace, MoveReport, device_key_places, move_device_keys};
pub use keychain::KeychainError;
pub use keychain_ref::KEYCHAIN_REF_FILE;
pub use source::{DATA_KEY_FILE, KeySource, MAX_KEY_FILE_LEN, resolve};

use std::path::PathBuf;

use zeroize::Zeroizing;

/// Domain separation of every subkey (the HKDF salt).
const HKDF_SALT: &[u8] = b"humansync/data-key/v1";

/// Bytes of a [`KeyId`].
pub const KEY_ID_LEN: usize = 16;

/// What a subkey is for; each purpose gets an independent key (HS-REST-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// AES-256-GCM key of every document-store record (documents, sync states, log, index,
    /// cursors, blob ages).
    DocRecords,
    /// Keyed BLAKE3 key naming document files and blob entries (names reveal no id or hash).
    FileNames,
    /// AES-256-GCM key of the sealed blob store: chunk groups, blob states, tags (HS-REST-6).
    BlobBytes,
    /// The key id stored next to an encrypted store to recognise a wrong key.
    KeyCheck,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::DocRecords => b"doc-records",
            Purpose::FileNames => b"file-names",
            Purpose::BlobBytes => b"blob-bytes",
            Purpose::KeyCheck => b"key-check",
        }
    }
}

/// A 256-bit data key. Its bytes are wiped from memory when it is dropped.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material; the id is enough to tell keys apart.
        write!(f, "DataKey({})", self.id())
    }
}

impl DataKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(Zeroizing::new(bytes))
    }

    /// A fresh random key from the OS.
    pub fn generate() -> Result<DataKey, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut bytes[..]).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(DataKey(bytes))
    }

    /// A key derived from a passphrase with argon2id (m = 64 MiB, t = 3, p = 1) and `salt`
    /// (16 random bytes kept next to the store; it is not secret).
    pub fn from_passphrase(passphrase: &str, salt: &[u8; 16]) -> Result<DataKey, KeyError> {
        let params = argon2::Params::new(64 * 1024, 3, 1, Some(32))
            .map_err(|e| KeyError::Passphrase(e.to_string()))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut out[..])
            .map_err(|e| KeyError::Passphrase(e.to_string()))?;
        Ok(DataKey(out))
    }

    /// The key's 32 bytes (to store them in a key file or keychain).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The subkey for `purpose` (HKDF-SHA256, the purpose as info).
    pub fn subkey(&self, purpose: Purpose) -> Zeroizing<[u8; 32]> {
        let hk = hkdf::Hkdf::<sha2_010::Sha256>::new(Some(HKDF_SALT), &self.0[..]);
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 8160, so expand cannot fail.
        let _ = hk.expand(purpose.info(), &mut out[..]);
        out
    }

    /// A public fingerprint of the key: stored with an encrypted store, so opening it with
    /// another key is a clear [`crate::store::StoreError::WrongKey`] rather than corruption.
    pub fn id(&self) -> KeyId {
        let check = self.subkey(Purpose::KeyCheck);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&check[..KEY_ID_LEN]);
        KeyId(id)
    }
}

/// The public fingerprint of a [`DataKey`] (16 bytes of an HKDF subkey; reveals nothing of the
/// key).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why a data key could not be obtained. All are local faults.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The OS random source failed.
    #[error("no OS randomness for a data key: {0}")]
    Random(String),
    /// A key file could not be read or created, or is unsafe (see the identity rules).
    #[error(transparent)]
    File(#[from] crate::identity::IdentityError),
    /// The key given in an environment variable or secret file is not 64 hex digits or 32 bytes.
    #[error("{source_name}: {reason}")]
    Malformed {
        /// The variable or file.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// An environment variable named as the key source is not set.
    #[error("environment variable {0} (the data key) is not set")]
    MissingEnv(String),
    /// A secret file named as the key source does not exist or cannot be read.
    #[error("data key file {0}: {1}")]
    Unreadable(PathBuf, String),
    /// argon2id failed.
    #[error("passphrase key derivation failed: {0}")]
    Passphrase(String),
    /// A key file named as the key source is larger than any key (refused before reading it).
    #[error("data key file {path} is larger than {max} bytes; a data key is 64 hex digits or 32 bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The largest accepted size.
        max: u64,
    },
    /// The OS keychain could not be used (unreachable, locked, a missing entry).
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    /// The configuration asks for a device secret in one place but it is kept in the other:
    /// keys are never switched silently; move them (`humansync::move_device_keys`) or configure
    /// the place they are in.
    #[error(
        "{secret} is kept in {found}, but the configuration asks for {wanted}; move it with move_device_keys or configure {found}"
    )]
    Elsewhere {
        /// The secret (its file name).
        secret: &'static str,
        /// Where it is.
        found: KeyPlace,
        /// Where the configuration wants it.
        wanted: KeyPlace,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HS-REST-1: one independent subkey per purpose and key; the id tells keys apart.
    #[test]
    fn subkeys_differ_per_purpose_and_key() {
        let a = DataKey::from_bytes([1; 32]);
        let b = DataKey::from_bytes([2; 32]);
        let all = [
            Purpose::DocRecords,
            Purpose::FileNames,
            Purpose::BlobBytes,
            Purpose::KeyCheck,
        ];
        let mut seen = std::collections::HashSet::new();
        for key in [&a, &b] {
            for p in all {
                assert!(seen.insert(*key.subkey(p)), "{p:?} repeats a subkey");
                assert_ne!(&key.subkey(p)[..], &key.as_bytes()[..]);
            }
        }
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), DataKey::from_bytes([1; 32]).id());
        assert!(!format!("{a:?}").contains("0101"), "Debug must not print the key");
    }

    #[test]
    fn passphrase_keys_depend_on_passphrase_and_salt() {
        let k1 = DataKey::from_passphrase("correct horse", &[1; 16]).unwrap();
        let k2 = DataKey::from_passphrase("correct horse", &[1; 16]).unwrap();
        let k3 = DataKey::from_passphrase("correct horsf", &[1; 16]).unwrap();
        let k4 = DataKey::from_passphrase("correct horse", &[2; 16]).unwrap();
        assert_eq!(k1.id(), k2.id());
        assert_ne!(k1.id(), k3.id());
        assert_ne!(k1.id(), k4.id());
    }
}
