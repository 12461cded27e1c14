//! Consecutive chunk groups sealed into one buffer and written with one `pwrite` (HS-REST-6).
//!
//! A fetch delivers one group per leaf, in order: sealing each into a buffer kept for the whole
//! import and writing [`BATCH_GROUPS`] slots at once saves a system call and an allocation per
//! 16 KiB. The groups of a batch count as present only once it is written
//! ([`super::entry::Entry::flush`]), so the state never names a group still in memory.

use iroh_blobs::Hash;

use super::cipher::{Aad, BlobCipher};
use super::groups::SLOT_LEN;

/// Groups per write (1 MiB of plaintext).
pub(crate) const BATCH_GROUPS: u64 = 64;

/// Sealed groups `first .. first + count`, back to back as their slots lie in the data file.
#[derive(Debug)]
pub(crate) struct WriteBatch {
    first: u64,
    count: u64,
    plain: u64,
    sealed: Vec<u8>,
}

impl Default for WriteBatch {
    fn default() -> Self {
        WriteBatch {
            first: 0,
            count: 0,
            plain: 0,
            sealed: Vec::with_capacity((BATCH_GROUPS * SLOT_LEN) as usize),
        }
    }
}

impl WriteBatch {
    /// True when no group waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when the batch holds [`BATCH_GROUPS`] groups.
    pub(crate) fn is_full(&self) -> bool {
        self.count >= BATCH_GROUPS
    }

    /// True when group `index` can join: the batch is empty, or it is the next slot and the
    /// batch is not full.
    pub(crate) fn accepts(&self, index: u64) -> bool {
        self.count == 0 || (index == self.first + self.count && self.count < BATCH_GROUPS)
    }

    /// Seals group `index` of the blob `hash` into the batch. Callers check
    /// [`WriteBatch::accepts`] first (every slot but the blob's last is whole, so the slots stay
    /// where the data file has them).
    pub(crate) fn push(&mut self, cipher: &BlobCipher, hash: &Hash, index: u64, plain: &[u8]) {
        if self.count == 0 {
            self.first = index;
        }
        cipher.seal_into(Aad::Group { hash, index }, plain, &mut self.sealed);
        self.count += 1;
        self.plain += plain.len() as u64;
    }

    /// The groups waiting: `(first, count, plaintext bytes, sealed slots)`.
    pub(crate) fn parts(&self) -> (u64, u64, u64, &[u8]) {
        (self.first, self.count, self.plain, &self.sealed)
    }

    /// Empties the batch (after it was written), keeping its buffer.
    pub(crate) fn clear(&mut self) {
        self.count = 0;
        self.plain = 0;
        self.sealed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DataKey;
    use crate::transport::sealed_blobs::groups::GROUP_LEN;

    /// Consecutive groups join until the batch is full; a gap or a full batch is refused.
    #[test]
    fn a_batch_takes_consecutive_groups_up_to_its_size() {
        let cipher = BlobCipher::new(&DataKey::from_bytes([4; 32])).expect("cipher");
        let hash = Hash::new(b"batch");
        let plain = vec![7u8; GROUP_LEN as usize];
        let mut batch = WriteBatch::default();
        assert!(batch.is_empty() && batch.accepts(9));
        for index in 9..9 + BATCH_GROUPS {
            assert!(batch.accepts(index), "{index}");
            batch.push(&cipher, &hash, index, &plain);
            assert!(!batch.accepts(index + 2), "a gap");
        }
        assert!(batch.is_full() && !batch.accepts(9 + BATCH_GROUPS));
        let (first, count, plain_len, sealed) = batch.parts();
        assert_eq!(
            (first, count, plain_len),
            (9, BATCH_GROUPS, BATCH_GROUPS * GROUP_LEN)
        );
        assert_eq!(sealed.len() as u64, BATCH_GROUPS * SLOT_LEN, "slots back to back");
        batch.clear();
        assert!(batch.is_empty() && batch.accepts(1));
    }
}
