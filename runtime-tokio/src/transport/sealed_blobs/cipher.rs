//! The blob store's keys: AES-256-GCM with the `blob-bytes` subkey for every sealed record, keyed
//! BLAKE3 with the `file-names` subkey for entry names (HS-REST-1, HS-REST-6).
//!
//! The AES-256-GCM implementation is ring's (already linked for rustls) rather than RustCrypto's
//! `aes-gcm` the document store uses: blobs are bulk data and ring seals 16 KiB groups about three
//! times faster here (3.6 vs 1.1 GB/s, BENCHMARKS.md). The format is plain AES-256-GCM either way.
//!
//! A sealed record is `nonce (12) ‖ ciphertext ‖ tag (16)`. Nonces are a random 4-byte prefix
//! drawn per open and a random 64-bit start counting up, as the document store's (seal.rs).
//! The associated data says what the record is and where it belongs ([`Aad`]), so a record moved
//! to another place, blob or file fails authentication.

use iroh_blobs::Hash;
use ring::aead::{AES_256_GCM, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use super::error::SealedBlobError;
use crate::keys::{DataKey, KeyId, Purpose};

use crate::keys::nonces::{NONCE_LEN, Nonces};
/// Bytes of a tag.
const TAG_LEN: usize = 16;
/// Bytes a sealed record adds to its plaintext.
pub(crate) const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// What a sealed record is and where it belongs: its associated data.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Aad<'a> {
    /// Chunk group `index` (bytes `index * GROUP_LEN ..`) of the blob `hash`.
    Group {
        /// The blob.
        hash: &'a Hash,
        /// The group's index in the blob.
        index: u64,
    },
    /// The state record of the entry named `name` (its hash is inside).
    State {
        /// The entry's directory name.
        name: &'a str,
    },
    /// The tags file.
    Tags,
}

/// Bytes of a group's associated data: label, hash, index.
const GROUP_AAD_LEN: usize = 16 + 32 + 8;

impl Aad<'_> {
    /// Calls `f` with the associated data's bytes (a group's on the stack: one per 16 KiB).
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Aad::Group { hash, index } => {
                let mut out = [0u8; GROUP_AAD_LEN];
                out[..16].copy_from_slice(b"hs-blob/group/v1");
                out[16..48].copy_from_slice(hash.as_bytes());
                out[48..].copy_from_slice(&index.to_le_bytes());
                f(&out)
            }
            Aad::State { name } => f(&[&b"hs-blob/state/v1"[..], name.as_bytes()].concat()),
            Aad::Tags => f(b"hs-blob/tags/v1"),
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }
}

/// The keys of one open sealed blob store.
pub(crate) struct BlobCipher {
    aead: LessSafeKey,
    names: Zeroizing<[u8; 32]>,
    id: KeyId,
    nonces: Nonces,
}

impl std::fmt::Debug for BlobCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobCipher({})", self.id)
    }
}

impl BlobCipher {
    /// The cipher of `key`; fails only when the OS has no randomness for the nonces.
    pub(crate) fn new(key: &DataKey) -> Result<BlobCipher, SealedBlobError> {
        let bytes = key.subkey(Purpose::BlobBytes);
        let aead = UnboundKey::new(&AES_256_GCM, &bytes[..])
            .map(LessSafeKey::new)
            .map_err(|_| SealedBlobError::Random("AES-256-GCM refused a 32-byte key".to_owned()))?;
        let nonces = Nonces::new().map_err(|e| SealedBlobError::Random(e.to_string()))?;
        Ok(BlobCipher {
            aead,
            names: key.subkey(Purpose::FileNames),
            id: key.id(),
            nonces,
        })
    }

    /// The id of the key (stored in `keycheck`).
    pub(crate) fn key_id(&self) -> KeyId {
        self.id
    }

    /// The directory name of the blob `hash`: 32 hex digits of BLAKE3 keyed with the
    /// `file-names` subkey (HS-REST-4): it reveals no hash, and differs between stores.
    pub(crate) fn entry_name(&self, hash: &Hash) -> String {
        let mut hasher = blake3::Hasher::new_keyed(&self.names);
        hasher.update(b"hs-blob/name/v1");
        hasher.update(hash.as_bytes());
        hex::encode(&hasher.finalize().as_bytes()[..16])
    }

    fn next_nonce(&self) -> [u8; NONCE_LEN] {
        self.nonces.next()
    }

    /// Appends `nonce ‖ ciphertext ‖ tag` of `plain` to `out`.
    pub(crate) fn seal_into(&self, aad: Aad<'_>, plain: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let nonce = self.next_nonce();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let body = start + NONCE_LEN;
        // AES-GCM fails only for plaintexts over 64 GiB; records are at most a few MiB.
        let sealed = aad.with_bytes(|aad| {
            self.aead.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(aad),
                &mut out[body..],
            )
        });
        if let Ok(tag) = sealed {
            out.extend_from_slice(tag.as_ref());
        }
    }

    /// `nonce ‖ ciphertext ‖ tag` of `plain`.
    #[cfg(test)]
    pub(crate) fn seal(&self, aad: Aad<'_>, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plain.len() + OVERHEAD);
        self.seal_into(aad, plain, &mut out);
        out
    }

    /// The plaintext of a sealed record, `None` when it fails authentication (or is shorter
    /// than a nonce and a tag).
    pub(crate) fn open(&self, aad: Aad<'_>, sealed: &[u8]) -> Option<Vec<u8>> {
        self.open_owned(aad, sealed.to_vec()).map(|b| b.to_vec())
    }

    /// [`BlobCipher::open`] in place: the plaintext is a slice of `sealed`'s own buffer.
    pub(crate) fn open_owned(&self, aad: Aad<'_>, mut sealed: Vec<u8>) -> Option<bytes::Bytes> {
        let plain = self.open_in_place(aad, &mut sealed)?;
        Some(bytes::Bytes::from(sealed).slice(plain))
    }

    /// Opens the sealed record `sealed` where it lies: on success the plaintext is
    /// `sealed[range]` (`None` as for [`BlobCipher::open`]).
    pub(crate) fn open_in_place(&self, aad: Aad<'_>, sealed: &mut [u8]) -> Option<std::ops::Range<usize>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(sealed.get(..NONCE_LEN)?).ok()?;
        let len = aad
            .with_bytes(|aad| {
                self.aead
                    .open_in_place(nonce, ring::aead::Aad::from(aad), &mut sealed[NONCE_LEN..])
            })
            .ok()?
            .len();
        Some(NONCE_LEN..NONCE_LEN + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_open_only_in_their_place() {
        let c = BlobCipher::new(&DataKey::from_bytes([7; 32])).unwrap();
        let (a, b) = (Hash::new(b"a"), Hash::new(b"b"));
        let sealed = c.seal(Aad::Group { hash: &a, index: 3 }, b"group bytes");
        assert!(!sealed.windows(5).any(|w| w == b"group"));
        assert_eq!(
            c.open(Aad::Group { hash: &a, index: 3 }, &sealed).as_deref(),
            Some(&b"group bytes"[..])
        );
        assert!(
            c.open(Aad::Group { hash: &a, index: 4 }, &sealed).is_none(),
            "moved"
        );
        assert!(
            c.open(Aad::Group { hash: &b, index: 3 }, &sealed).is_none(),
            "other blob"
        );
        assert!(c.open(Aad::State { name: "x" }, &sealed).is_none(), "other kind");
        let other = BlobCipher::new(&DataKey::from_bytes([8; 32])).unwrap();
        assert!(
            other.open(Aad::Group { hash: &a, index: 3 }, &sealed).is_none(),
            "other key"
        );
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(
            c.open(Aad::Group { hash: &a, index: 3 }, &flipped).is_none(),
            "flipped"
        );
        assert!(c.open(Aad::Tags, &[0; 5]).is_none(), "short");
        assert_ne!(c.entry_name(&a), other.entry_name(&a), "names depend on the key");
        assert_eq!(c.entry_name(&a).len(), 32);
        assert!(!c.entry_name(&a).contains(&a.to_hex()[..8]));
    }

    /// The format is plain AES-256-GCM: RustCrypto's implementation opens what ring sealed.
    #[test]
    fn groups_are_standard_aes_256_gcm() {
        use aes_gcm::aead::generic_array::GenericArray;
        use aes_gcm::aead::{AeadInPlace, KeyInit};
        let key = DataKey::from_bytes([9; 32]);
        let c = BlobCipher::new(&key).unwrap();
        let hash = Hash::new(b"h");
        let aad = Aad::Group {
            hash: &hash,
            index: 5,
        };
        let sealed = c.seal(aad, b"sixteen kibibytes, give or take");
        let other = aes_gcm::Aes256Gcm::new(GenericArray::from_slice(&key.subkey(Purpose::BlobBytes)[..]));
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut body = body.to_vec();
        other
            .decrypt_in_place_detached(
                GenericArray::from_slice(nonce),
                &aad.bytes(),
                &mut body,
                GenericArray::from_slice(tag),
            )
            .expect("opens");
        assert_eq!(body, b"sixteen kibibytes, give or take");
    }
}
