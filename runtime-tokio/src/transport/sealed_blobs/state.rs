//! A blob's state record: its hash, its size and which chunk groups are present.
//!
//! The file is `magic ‖ sealed(hash ‖ size ‖ count ‖ (start, end)*)`, sealed with the entry's
//! name as associated data and replaced whole (files.rs). It is written only after the groups
//! it names are synced, so after a kill it names fewer groups than the data file holds (those
//! are fetched again), never more. Group ranges are half-open, in group indices.

use std::path::Path;

use iroh_blobs::Hash;
use range_collections::RangeSet2;
use range_collections::range_set::RangeSetRange;

use super::cipher::{Aad, BlobCipher};
use super::error::SealedBlobError;

/// Magic of a state file.
pub(crate) const MAGIC: &[u8; 8] = b"HSBSTA\x00\x01";
/// Largest state file read: 65,536 disjoint ranges (a blob is rarely in more than a few).
pub(crate) const MAX_STATE_LEN: u64 = 8 + 28 + 44 + 16 * 65_536;

/// Sets of chunk-group indices.
pub(crate) type Groups = RangeSet2<u64>;

/// What the store knows of one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlobState {
    /// The blob's hash.
    pub(crate) hash: Hash,
    /// Its size in bytes (as announced by the first peer for a partial blob).
    pub(crate) size: u64,
    /// The chunk groups present and synced.
    pub(crate) present: Groups,
}

impl BlobState {
    /// The present groups as `(start, end)` ranges; an unbounded range is never stored (present
    /// groups are always bounded by the size).
    pub(crate) fn bounded_ranges(&self) -> Vec<(u64, u64)> {
        self.present
            .iter()
            .filter_map(|r| match r {
                RangeSetRange::Range(r) => Some((*r.start, *r.end)),
                RangeSetRange::RangeFrom(_) => None,
            })
            .collect()
    }

    /// The file bytes of this state for the entry `name`.
    pub(crate) fn encode(&self, cipher: &BlobCipher, name: &str) -> Vec<u8> {
        let mut plain = Vec::with_capacity(44 + 16);
        plain.extend_from_slice(self.hash.as_bytes());
        plain.extend_from_slice(&self.size.to_le_bytes());
        let ranges = self.bounded_ranges();
        plain.extend_from_slice(&(ranges.len() as u32).to_le_bytes());
        for (start, end) in ranges {
            plain.extend_from_slice(&start.to_le_bytes());
            plain.extend_from_slice(&end.to_le_bytes());
        }
        let mut out = MAGIC.to_vec();
        cipher.seal_into(Aad::State { name }, &plain, &mut out);
        out
    }

    /// The state in `bytes`, read from `path`, the file of the entry `name`.
    pub(crate) fn decode(
        cipher: &BlobCipher,
        name: &str,
        path: &Path,
        bytes: &[u8],
    ) -> Result<BlobState, SealedBlobError> {
        let sealed = bytes
            .strip_prefix(&MAGIC[..])
            .ok_or_else(|| SealedBlobError::malformed(path, "not a blob state file"))?;
        let plain = cipher
            .open(Aad::State { name }, sealed)
            .ok_or_else(|| SealedBlobError::Tampered {
                path: path.to_path_buf(),
                what: "state".to_owned(),
            })?;
        let bad = |reason: &str| SealedBlobError::malformed(path, reason);
        let head = plain.get(..44).ok_or_else(|| bad("truncated"))?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&head[..32]);
        let hash = Hash::from_bytes(hash);
        let size = u64::from_le_bytes(head[32..40].try_into().map_err(|_| bad("size"))?);
        let count = u32::from_le_bytes(head[40..44].try_into().map_err(|_| bad("count"))?) as usize;
        let body = &plain[44..];
        if body.len() != count.checked_mul(16).ok_or_else(|| bad("count"))? {
            return Err(bad("range count does not match the length"));
        }
        if cipher.entry_name(&hash) != name {
            return Err(SealedBlobError::Tampered {
                path: path.to_path_buf(),
                what: "state of another blob".to_owned(),
            });
        }
        if size > super::groups::MAX_SIZE {
            return Err(bad("size out of bounds"));
        }
        let groups = super::groups::count(size);
        let mut present = Groups::empty();
        for pair in body.chunks_exact(16) {
            let start = u64::from_le_bytes(pair[..8].try_into().map_err(|_| bad("range"))?);
            let end = u64::from_le_bytes(pair[8..].try_into().map_err(|_| bad("range"))?);
            if start >= end || end > groups {
                return Err(bad("group range out of bounds"));
            }
            present |= Groups::from(start..end);
        }
        Ok(BlobState { hash, size, present })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DataKey;

    #[test]
    fn state_round_trips_and_is_bound_to_its_entry() {
        let c = BlobCipher::new(&DataKey::from_bytes([3; 32])).unwrap();
        let hash = Hash::new(b"blob");
        let name = c.entry_name(&hash);
        let state = BlobState {
            hash,
            size: 100_000,
            present: Groups::from(0..2) | Groups::from(4..7),
        };
        let bytes = state.encode(&c, &name);
        let path = Path::new("state");
        assert_eq!(BlobState::decode(&c, &name, path, &bytes).unwrap(), state);
        let other = c.entry_name(&Hash::new(b"other"));
        assert!(matches!(
            BlobState::decode(&c, &other, path, &bytes),
            Err(SealedBlobError::Tampered { .. })
        ));
        let mut flipped = bytes.clone();
        flipped[30] ^= 4;
        assert!(BlobState::decode(&c, &name, path, &flipped).is_err());
        assert!(BlobState::decode(&c, &name, path, &bytes[..20]).is_err());
    }
}
