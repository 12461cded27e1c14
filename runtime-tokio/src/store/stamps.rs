//! One codec for the store's small "time per 32-byte key" side files: the blob ages
//! (`blob_ages.rs`, keyed by blob hash) and the devices' last-seen times (`last_seen.rs`, keyed by
//! device id).
//!
//! A file is its 8-byte magic (name and format version), then one checksummed record
//! (record.rs) per entry: the 32-byte key and a wall-clock time in unix milliseconds,
//! little-endian. In an encrypted store the header carries the sealed magic and a salt, and each
//! record is sealed and bound to the file's label, salt, offset and kind (seal.rs). At most
//! [`MAX_STAMPS`] entries are written or read back.

use super::codec::{Malformed, Reader};
use super::seal::{self, Frame, Sealer};

/// Most entries written to or read from one file.
pub(crate) const MAX_STAMPS: usize = 1 << 20;

/// The format of one side file: its magic and the kind byte of its records.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StampFile {
    /// The first bytes of the file.
    pub(crate) magic: &'static [u8; 8],
    /// The record kind of one entry.
    pub(crate) kind: u8,
    /// The label binding sealed records to this file.
    pub(crate) label: &'static [u8],
}

impl StampFile {
    /// The file's bytes for `stamps` (the first [`MAX_STAMPS`] of them), sealed with `sealer`.
    pub(crate) fn encode(&self, stamps: &[([u8; 32], u64)], sealer: Option<&Sealer>) -> Vec<u8> {
        let (mut out, salt) = seal::header(sealer, self.magic);
        let frame = Frame::new(sealer, self.label, salt, 0);
        for (key, ms) in stamps.iter().take(MAX_STAMPS) {
            let _ = frame.push(&mut out, self.kind, &[key, &ms.to_le_bytes()]);
        }
        out
    }

    /// The entries of a file; an error for a wrong magic, a damaged or cut record, a record of
    /// another kind or more than [`MAX_STAMPS`] entries.
    pub(crate) fn decode(
        &self,
        bytes: &[u8],
        sealer: Option<&Sealer>,
    ) -> Result<Vec<([u8; 32], u64)>, String> {
        let (salt, start) = seal::read_header(sealer, self.magic, bytes)?;
        let mut out = Vec::new();
        for r in Frame::new(sealer, self.label, salt, 0).iter(bytes, start) {
            let (kind, payload) = r.map_err(|bad| bad.to_string())?;
            if kind != self.kind || out.len() >= MAX_STAMPS {
                return Err("unexpected record".to_owned());
            }
            out.push(stamp(&mut Reader::new(&payload)).map_err(|e| e.to_string())?);
        }
        Ok(out)
    }
}

fn stamp(r: &mut Reader<'_>) -> Result<([u8; 32], u64), Malformed> {
    let key = r.array32()?;
    let ms = r.u64()?;
    r.finish()?;
    Ok((key, ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: StampFile = StampFile {
        magic: b"HSTEST\0\x01",
        kind: 0x42,
        label: b"test",
    };

    #[test]
    fn roundtrip_and_every_truncation_refused() {
        let stamps = vec![([1; 32], 1_700_000_000_000), ([2; 32], u64::MAX)];
        let bytes = FILE.encode(&stamps, None);
        assert_eq!(FILE.decode(&bytes, None).unwrap(), stamps);
        assert_eq!(FILE.decode(&FILE.encode(&[], None), None).unwrap(), Vec::new());
        for cut in 0..bytes.len() {
            // A cut at a record boundary is a shorter valid file; anything else is refused.
            if let Ok(read) = FILE.decode(&bytes[..cut], None) {
                assert!(
                    read.len() < stamps.len() && stamps.starts_with(&read),
                    "cut at {cut}"
                );
            }
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(FILE.decode(&flipped, None).is_err());
        let other = StampFile {
            magic: b"HSOTHER\x01",
            kind: 0x42,
            label: b"test",
        };
        assert!(
            other.decode(&bytes, None).is_err(),
            "another file's magic is refused"
        );
    }
}
