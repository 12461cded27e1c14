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
