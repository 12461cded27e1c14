//! Why peer-supplied Automerge bytes were refused. Every variant is a peer fault.

/// Why bytes were refused before (or by) the Automerge parse (HS-SYNC-10, HS-SYNC-12).
///
/// Offsets are into the buffer being checked: the message, or the inflated data of a
/// compressed change chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UntrustedError {
    /// No bytes at all.
    #[error("no bytes")]
    Empty,
    /// A chunk does not start with the Automerge magic bytes.
    #[error("chunk at byte {0}: not the Automerge magic bytes")]
    Magic(usize),
    /// A length, count or field runs past the end of its buffer.
    #[error("byte {0}: truncated")]
    Truncated(usize),
    /// A chunk's type byte is not one Automerge writes.
    #[error("chunk at byte {0}: unknown chunk type {1}")]
    ChunkType(usize, u8),
    /// A LEB128 number is over-long or does not fit.
    #[error("byte {0}: bad LEB128 number")]
    Leb128(usize),
    /// A chunk's checksum does not match its contents.
    #[error("chunk at byte {0}: checksum mismatch")]
    Checksum(usize),
    /// A structure is not what Automerge writes (named by `1`).
    #[error("byte {0}: malformed {1}")]
    Malformed(usize, &'static str),
    /// A DEFLATE stream (compressed chunk or column) does not inflate.
    #[error("byte {0}: corrupt DEFLATE data")]
    Inflate(usize),
    /// The bytes would expand to more than `MAX_AUTOMERGE_EXPANDED_BYTES`.
    #[error("expands to more than {0} bytes")]
    TooLarge(u64),
    /// The bytes declare more than `MAX_AUTOMERGE_ROWS` changes and operations.
    #[error("declares more than {0} changes and operations")]
    TooManyRows(u64),
    /// A sync message's Bloom filter declares parameters outside the bounds.
    #[error("sync message: Bloom filter out of bounds")]
    Bloom,
    /// Automerge refused the bytes after they passed the checks.
    #[error("Automerge: {0}")]
    Automerge(String),
}
