//! Lowercase-hex text forms of fixed-size byte ids (HS-ID-2).

/// Why a hex text form was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The text has the wrong number of characters.
    #[error("expected {expected} hex characters, got {actual}")]
    Length {
        /// Characters required.
        expected: usize,
        /// Characters given.
        actual: usize,
    },
    /// The text contains a character that is not a hex digit.
    #[error("not a hex digit at position {0}")]
    Digit(usize),
}

/// Decodes exactly `N` bytes from `2 * N` hex characters, either case; any other length is
/// refused (HS-ID-2 for device ids, HS-ID-4 for BlobHash, ChangeHash, DocDigest and Fingerprint).
pub fn decode_fixed<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    let raw = text.as_bytes();
    if raw.len() != 2 * N {
        return Err(HexError::Length {
            expected: 2 * N,
            actual: raw.len(),
        });
    }
    let mut out = [0u8; N];
    for (i, pair) in raw.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]).ok_or(HexError::Digit(2 * i))?;
        let lo = nibble(pair[1]).ok_or(HexError::Digit(2 * i + 1))?;
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Encodes bytes as lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    hex::encode(bytes)
}
