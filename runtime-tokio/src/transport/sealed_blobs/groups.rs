//! Chunk groups: the unit of sealing, storage and presence.
//!
//! A group is [`GROUP_LEN`] bytes of the blob — one iroh-blobs block (`IROH_BLOCK_SIZE`, 16
//! BLAKE3 chunks), the smallest unit it verifies, sends and stores — the last group shorter.
//! Group `i` is sealed with `Aad::Group { hash, index: i }` and stored at byte
//! `i * SLOT_LEN` of the entry's `data` file, so a write never moves another group, a
//! missing group is a hole, and two groups swapped or copied from another blob fail
//! authentication.

use std::os::unix::fs::FileExt;
use std::path::Path;

use bao_tree::{ChunkNum, ChunkRanges};
use iroh_blobs::Hash;
use iroh_blobs::api::blobs::Bitfield;
use range_collections::range_set::RangeSetRange;

use super::cipher::{Aad, BlobCipher, OVERHEAD};
use super::error::SealedBlobError;
use super::state::Groups;

/// Bytes of a chunk group (the last one of a blob may be shorter).
pub(crate) const GROUP_LEN: u64 = iroh_blobs::store::IROH_BLOCK_SIZE.bytes() as u64;
/// BLAKE3 chunks per group.
const CHUNKS_PER_GROUP: u64 = GROUP_LEN / 1024;
/// Bytes a group takes in the data file.
pub(crate) const SLOT_LEN: u64 = GROUP_LEN + OVERHEAD as u64;
/// The largest blob the store takes (64 PiB): far above any real blob, and small enough that
/// every slot's offset in the data file fits in a `u64`. Checked where a size comes from a
/// file or a peer (state.rs, [`super::entry::Entry::begin_import`]).
pub(crate) const MAX_SIZE: u64 = 1 << 56;

/// The number of groups of a blob of `size` bytes.
pub(crate) fn count(size: u64) -> u64 {
    size.div_ceil(GROUP_LEN)
}

/// The plaintext length of group `index` of a blob of `size` bytes (0 past the end).
pub(crate) fn len(size: u64, index: u64) -> u64 {
    size.saturating_sub(index.saturating_mul(GROUP_LEN))
        .min(GROUP_LEN)
}

/// The BLAKE3 chunks of `groups` in a blob of `size` bytes.
pub(crate) fn to_chunks(groups: &Groups, size: u64) -> ChunkRanges {
    let end = ChunkNum::chunks(size);
    let mut out = ChunkRanges::empty();
    for range in groups.iter() {
        let (start, stop) = match range {
            RangeSetRange::Range(r) => (*r.start, *r.end),
            RangeSetRange::RangeFrom(r) => (*r.start, u64::MAX / CHUNKS_PER_GROUP),
        };
        let a = ChunkNum(start * CHUNKS_PER_GROUP).min(end);
        let b = ChunkNum(stop * CHUNKS_PER_GROUP).min(end);
        if a < b {
            out |= ChunkRanges::from(a..b);
        }
    }
    out
}

/// The groups of a byte range (partly covered groups included).
pub(crate) fn of_bytes(start: u64, end: u64) -> std::ops::Range<u64> {
    start / GROUP_LEN..end.div_ceil(GROUP_LEN)
}

/// The bitfield iroh-blobs sees for `present` groups of a blob of `size` bytes.
pub(crate) fn bitfield(size: u64, present: &Groups) -> Bitfield {
    if size == 0 {
        return Bitfield::empty();
    }
    Bitfield::new(to_chunks(present, size), size)
}

/// Reads the `count` consecutive groups from `first` of the blob `hash` (`size` bytes) from
/// `data` with one read, and opens each where it lies (no copy): the groups up to the first one
/// that fails authentication, which is left to [`read`] to report. `count` is bounded by the
/// caller ([`super::entry::Entry::read_run`]), and so is the buffer.
pub(crate) fn read_run(
    cipher: &BlobCipher,
    data: &std::fs::File,
    path: &Path,
    hash: &Hash,
    size: u64,
    first: u64,
    count: u64,
) -> Result<Vec<bytes::Bytes>, SealedBlobError> {
    let last = first + count.saturating_sub(1);
    let last_len = len(size, last);
    if count == 0 || last_len == 0 {
        return Ok(Vec::new());
    }
    let total = (count - 1) * SLOT_LEN + last_len + OVERHEAD as u64;
    let mut buf = vec![0u8; total as usize];
    data.read_exact_at(&mut buf, first * SLOT_LEN)
        .map_err(|e| SealedBlobError::io("read", path, e))?;
    let mut plain = Vec::with_capacity(count as usize);
    for (i, slot) in buf.chunks_mut(SLOT_LEN as usize).enumerate() {
        let index = first + i as u64;
        match cipher.open_in_place(Aad::Group { hash, index }, slot) {
            Some(range) => plain.push((i * SLOT_LEN as usize + range.start, range.len())),
            None => break,
        }
    }
    let buf = bytes::Bytes::from(buf);
    Ok(plain
        .into_iter()
        .map(|(start, len)| buf.slice(start..start + len))
        .collect())
}

/// Reads and opens group `index` of the blob `hash` (`size` bytes) from `data`.
pub(crate) fn read(
    cipher: &BlobCipher,
    data: &std::fs::File,
    path: &Path,
    hash: &Hash,
    size: u64,
    index: u64,
) -> Result<bytes::Bytes, SealedBlobError> {
    let plain_len = len(size, index);
    if plain_len == 0 {
        return Err(SealedBlobError::malformed(
            path,
            format!("no group {index} in {size} bytes"),
        ));
    }
    // Bounded: at most one slot.
    let mut sealed = vec![0u8; plain_len as usize + OVERHEAD];
    match data.read_exact_at(&mut sealed, index * SLOT_LEN) {
        Ok(()) => {}
        // A group the state names is missing from the file: it was cut short.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(SealedBlobError::Tampered {
                path: path.to_path_buf(),
                what: format!("chunk group {index}, past the end of the truncated file"),
            });
        }
        Err(e) => return Err(SealedBlobError::io("read", path, e)),
    }
    cipher
        .open_owned(Aad::Group { hash, index }, sealed)
        .ok_or_else(|| SealedBlobError::Tampered {
            path: path.to_path_buf(),
            what: format!("chunk group {index}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_chunks_and_lengths() {
        assert_eq!(GROUP_LEN, 16 * 1024);
        assert_eq!(count(0), 0);
        assert_eq!(count(1), 1);
        assert_eq!(count(GROUP_LEN + 1), 2);
        assert_eq!(len(GROUP_LEN + 5, 1), 5);
        assert_eq!(len(GROUP_LEN + 5, 2), 0);
        let size = 2 * GROUP_LEN + 100;
        let chunks = to_chunks(&Groups::from(1..3), size);
        assert_eq!(chunks, ChunkRanges::from(ChunkNum(16)..ChunkNum(33)));
        assert!(bitfield(size, &Groups::from(0..3)).is_complete());
        assert!(!bitfield(size, &Groups::from(0..2)).is_complete());
        assert_eq!(of_bytes(100, GROUP_LEN + 1), 0..2);
    }
}
