//! Checksummed record framing, shared by document files, the write-ahead log and the index.
//!
//! A record is `[u32 len][u32 crc][u8 kind][payload; len]` (little endian), where `crc` is the
//! CRC-32 (IEEE) of the four length bytes, the kind byte and the payload. A reader stops at the
//! first record that is cut short or fails its checksum; what precedes it is the valid prefix.

/// Bytes before the payload: length, checksum, kind.
pub(crate) const HEADER_LEN: usize = 9;

/// Largest payload the store writes or accepts (1 GiB; far above the protocol's document limit).
pub const MAX_PAYLOAD: usize = 1 << 30;

/// A decoded record borrowing its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    /// The record kind (the meaning depends on the file).
    pub(crate) kind: u8,
    /// The payload.
    pub(crate) payload: &'a [u8],
}

/// Why reading stopped before the end of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Bad {
    /// The bytes end inside a record.
    #[error("truncated record at byte {0}")]
    Truncated(usize),
    /// A record's checksum does not match.
    #[error("checksum mismatch in record at byte {0}")]
    Checksum(usize),
    /// A record claims a length above [`MAX_PAYLOAD`].
    #[error("record at byte {0} claims an impossible length")]
    Length(usize),
    /// A sealed record fails authentication: a wrong key, or a record altered, moved or
    /// replayed (HS-REST-3).
    #[error("sealed record at byte {0} fails authentication (tampered, moved or another key)")]
    Sealed(usize),
}

/// The header for a record whose payload is the concatenation of `parts`, or `None` when the
/// payload exceeds [`MAX_PAYLOAD`].
pub(crate) fn header(kind: u8, parts: &[&[u8]]) -> Option<[u8; HEADER_LEN]> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > MAX_PAYLOAD {
        return None;
    }
    // len <= MAX_PAYLOAD < u32::MAX, so the cast is lossless.
    let len = (len as u32).to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(&[kind]);
    for part in parts {
        hasher.update(part);
    }
    let mut out = [0u8; HEADER_LEN];
    out[..4].copy_from_slice(&len);
    out[4..8].copy_from_slice(&hasher.finalize().to_le_bytes());
    out[8] = kind;
    Some(out)
}

/// Appends one record to `out`; `None` when the payload is too large (nothing is appended).
pub(crate) fn push(out: &mut Vec<u8>, kind: u8, parts: &[&[u8]]) -> Option<()> {
    let head = header(kind, parts)?;
    out.extend_from_slice(&head);
    for part in parts {
        out.extend_from_slice(part);
    }
    Some(())
}

/// Iterates the records of `bytes[start..]`; yields one `Err` and then stops at a bad record.
pub(crate) fn iter(bytes: &[u8], start: usize) -> Records<'_> {
    Records {
        bytes,
        pos: start,
        failed: false,
    }
}

/// Iterator returned by [`iter`].
#[derive(Debug)]
pub(crate) struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Records<'a> {
    /// Byte offset just after the last record yielded successfully.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn read(&mut self) -> Result<Record<'a>, Bad> {
        let at = self.pos;
        let rest = self.bytes.get(at..).unwrap_or_default();
        let Some(head) = rest.get(..HEADER_LEN) else {
            return Err(Bad::Truncated(at));
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(Bad::Length(at));
        }
        let Some(payload) = rest.get(HEADER_LEN..HEADER_LEN + len) else {
            return Err(Bad::Truncated(at));
        };
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&head[..4]);
        hasher.update(&head[8..9]);
        hasher.update(payload);
        if hasher.finalize() != crc {
            return Err(Bad::Checksum(at));
        }
        self.pos = at + HEADER_LEN + len;
        Ok(Record {
            kind: head[8],
            payload,
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Bad>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let item = self.read();
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        push(&mut out, 1, &[b"hello"]).unwrap();
        push(&mut out, 2, &[b"wor", b"ld"]).unwrap();
        push(&mut out, 3, &[]).unwrap();
        out
    }

    #[test]
    fn roundtrip() {
        let bytes = sample();
        let got: Vec<(u8, Vec<u8>)> = iter(&bytes, 0)
            .map(|r| r.map(|r| (r.kind, r.payload.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            got,
            vec![(1, b"hello".to_vec()), (2, b"world".to_vec()), (3, vec![])]
        );
        assert_eq!(bytes.len(), 3 * HEADER_LEN + 10);
    }

    #[test]
    fn every_truncation_is_detected() {
        let bytes = sample();
        for cut in 0..bytes.len() {
            let items: Vec<_> = iter(&bytes[..cut], 0).collect();
            let boundary = [0, HEADER_LEN + 5, 2 * HEADER_LEN + 10].contains(&cut);
            assert_eq!(items.iter().all(|r| r.is_ok()), boundary, "cut at {cut}");
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let bytes = sample();
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    iter(&bad, 0).any(|r| r.is_err()),
                    "flip {byte}:{bit} went unnoticed"
                );
            }
        }
    }
}
