//! A cheap check that bytes are Automerge storage chunks, for documents stored without parsing
//! (HS-SYNC-12).
//!
//! A node stores a received whole document unparsed (HS-SYNC-1) so that an initial sync of
//! thousands of documents costs no Automerge parse. Before it does, it checks the framing every
//! Automerge save and incremental save has: a sequence of chunks, each `85 6f 4a 83` (magic),
//! a 4-byte checksum, a type byte, a LEB128 length and that many bytes, where the checksum is the
//! first four bytes of SHA-256 over the type byte, the length and the data. That catches garbage,
//! truncation and corruption in transit or at rest for the price of one SHA-256 pass; a forged
//! but well-framed chunk is still caught when the document is loaded (HS-SYNC-1, HS-SYNC-10).

use sha2::{Digest, Sha256};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
/// A deflate-compressed change: its checksum covers the uncompressed bytes, so only its framing
/// is checked here.
const COMPRESSED_CHANGE: u8 = 2;
const BUNDLE: u8 = 3;

/// Why bytes are not Automerge storage chunks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChunkError {
    /// No bytes at all.
    #[error("no bytes")]
    Empty,
    /// A chunk does not start with the Automerge magic bytes.
    #[error("chunk at byte {0}: not the Automerge magic bytes")]
    Magic(usize),
    /// A chunk's header or data runs past the end.
    #[error("chunk at byte {0}: truncated")]
    Truncated(usize),
    /// A chunk's type byte is not one Automerge writes.
    #[error("chunk at byte {0}: unknown chunk type {1}")]
    Type(usize, u8),
    /// A chunk's length is not a valid LEB128 number.
    #[error("chunk at byte {0}: bad length")]
    Length(usize),
    /// A chunk's checksum does not match its contents.
    #[error("chunk at byte {0}: checksum mismatch")]
    Checksum(usize),
}

/// Checks that `bytes` are one or more whole, uncorrupted Automerge storage chunks (HS-SYNC-12).
pub(crate) fn check_chunks(bytes: &[u8]) -> Result<(), ChunkError> {
    if bytes.is_empty() {
        return Err(ChunkError::Empty);
    }
    let mut at = 0;
    while at < bytes.len() {
        at = check_chunk(bytes, at)?;
    }
    Ok(())
}

/// Checks the chunk starting at `start`; returns where the next one starts.
fn check_chunk(bytes: &[u8], start: usize) -> Result<usize, ChunkError> {
    let header = bytes.get(start..start + 9).ok_or(ChunkError::Truncated(start))?;
    if header[..4] != MAGIC {
        return Err(ChunkError::Magic(start));
    }
    let checksum = &header[4..8];
    let kind = header[8];
    if !matches!(kind, DOCUMENT | CHANGE | COMPRESSED_CHANGE | BUNDLE) {
        return Err(ChunkError::Type(start, kind));
    }
    let len_at = start + 9;
    let (len, len_bytes) =
        read_leb128(bytes.get(len_at..).unwrap_or_default()).ok_or(ChunkError::Length(start))?;
    let data_at = len_at + len_bytes;
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| data_at.checked_add(len))
        .ok_or(ChunkError::Truncated(start))?;
    if end > bytes.len() {
        return Err(ChunkError::Truncated(start));
    }
    if kind != COMPRESSED_CHANGE {
        // The hash covers the type byte, the length exactly as written, and the data.
        let digest = Sha256::digest(&bytes[start + 8..end]);
        if digest[..4] != *checksum {
            return Err(ChunkError::Checksum(start));
        }
    }
    Ok(end)
}

/// An unsigned LEB128 number of at most 10 bytes that fits a u64: (value, bytes read).
fn read_leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.iter().take(10).enumerate() {
        let bits = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    fn saved() -> (Vec<u8>, Vec<u8>) {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "title", "a note").expect("put");
        let whole = doc.save();
        let heads = doc.get_heads();
        doc.put(ROOT, "body", "x".repeat(2000)).expect("put");
        let incremental = doc.save_after(&heads);
        (whole, incremental)
    }

    #[test]
    fn saves_and_incremental_saves_pass() {
        // HS-SYNC-12
        let (whole, incremental) = saved();
        check_chunks(&whole).expect("a save");
        check_chunks(&incremental).expect("an incremental save");
        let mut both = whole.clone();
        both.extend_from_slice(&incremental);
        check_chunks(&both).expect("a save followed by an incremental save");
        let mut empty_doc = AutoCommit::new();
        check_chunks(&empty_doc.save()).expect("an empty document's save");
    }

    #[test]
    fn garbage_truncation_and_corruption_fail() {
        // HS-SYNC-12
        let (whole, _) = saved();
        assert_eq!(check_chunks(b""), Err(ChunkError::Empty));
        assert_eq!(
            check_chunks(b"these bytes are not an automerge document"),
            Err(ChunkError::Magic(0))
        );
        assert_eq!(
            check_chunks(&whole[..whole.len() - 1]),
            Err(ChunkError::Truncated(0))
        );
        assert_eq!(check_chunks(&whole[..6]), Err(ChunkError::Truncated(0)));
        let mut flipped = whole.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(check_chunks(&flipped), Err(ChunkError::Checksum(0)));
        let mut trailing = whole.clone();
        trailing.push(0);
        assert_eq!(check_chunks(&trailing), Err(ChunkError::Truncated(whole.len())));
        let mut kind = whole;
        kind[8] = 9;
        assert_eq!(check_chunks(&kind), Err(ChunkError::Type(0, 9)));
    }

    #[test]
    fn over_long_lengths_are_rejected_without_allocating() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 0, CHANGE]);
        bytes.extend_from_slice(&[0xff; 9]);
        bytes.push(0x01);
        assert_eq!(check_chunks(&bytes), Err(ChunkError::Truncated(0)));
        bytes.pop();
        bytes.push(0x7f);
        assert_eq!(check_chunks(&bytes), Err(ChunkError::Length(0)));
    }
}
