//! The cursors file: how far this node holds each peer's change log (HS-RESUME-5).
//!
//! `MAGIC`, then one record (checksummed, record.rs) per cursor: the 32-byte peer id, the log
//! epoch and the sequence number, little-endian. Replaced whole (written to `tmp/`, synced,
//! renamed, directory synced). A missing or damaged file means no cursors: the next session
//! with each peer reconciles ranges instead of resuming, which loses nothing.

use humansync_protocol::{Cursor, DeviceId};

use super::DocStore;
use super::codec::{Malformed, Reader};
use super::durable;
use super::error::StoreError;
use super::seal::{self, Frame, Sealer};

/// The label binding sealed records to this file.
const LABEL: &[u8] = b"cursors";

/// The first bytes of the cursors file (format version 1).
const MAGIC: &[u8; 8] = b"HSCUR\0\0\x01";

/// Record kind of one cursor.
const CURSOR: u8 = 0x30;

/// Most cursors read back (one per registered peer; the registry holds at most 10,000 records).
const MAX_CURSORS: usize = humansync_protocol::limits::MAX_REGISTRY_RECORDS;

pub(crate) fn encode(cursors: &[(DeviceId, Cursor)], sealer: Option<&Sealer>) -> Vec<u8> {
    let (mut out, salt) = seal::header(sealer, MAGIC);
    let frame = Frame::new(sealer, LABEL, salt, 0);
    for (peer, cursor) in cursors.iter().take(MAX_CURSORS) {
        let _ = frame.push(
            &mut out,
            CURSOR,
            &[
                peer.as_bytes(),
                &cursor.epoch.to_le_bytes(),
                &cursor.seq.to_le_bytes(),
            ],
        );
    }
    out
}

fn decode(bytes: &[u8], sealer: Option<&Sealer>) -> Result<Vec<(DeviceId, Cursor)>, String> {
    let (salt, start) = seal::read_header(sealer, MAGIC, bytes)?;
    let mut cursors = Vec::new();
    for r in Frame::new(sealer, LABEL, salt, 0).iter(bytes, start) {
        let (kind, payload) = r.map_err(|bad| bad.to_string())?;
        if kind != CURSOR || cursors.len() >= MAX_CURSORS {
            return Err("unexpected record".to_owned());
        }
        cursors.push(cursor(&mut Reader::new(&payload)).map_err(|e| e.to_string())?);
    }
    Ok(cursors)
}

fn cursor(r: &mut Reader<'_>) -> Result<(DeviceId, Cursor), Malformed> {
    let peer = DeviceId::from_bytes(r.array32()?).map_err(|_| Malformed("peer id is not a key"))?;
    let epoch = r.u64()?;
    let seq = r.u64()?;
    r.finish()?;
    Ok((peer, Cursor { epoch, seq }))
}

impl DocStore {
    /// The persisted cursors, or none if the file is missing or damaged, or if any stored
    /// document was lost (quarantined): what this node holds of its peers' logs is then unknown.
    pub fn cursors(&self) -> Vec<(DeviceId, Cursor)> {
        if !self.quarantined().is_empty() {
            return Vec::new();
        }
        let path = &self.layout.cursors;
        durable::read_side_file(
            path,
            |b| decode(b, self.sealer()),
            "cursors file unreadable; resuming from none",
        )
    }

    /// Durably replaces the persisted cursors.
    pub fn save_cursors(&mut self, cursors: &[(DeviceId, Cursor)]) -> Result<(), StoreError> {
        let layout = &self.layout;
        let bytes = encode(cursors, self.sealer());
        durable::replace_side_file(
            &layout.cursors_tmp(),
            &layout.cursors,
            &layout.root,
            &bytes,
            &self.stats,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(b: u8) -> DeviceId {
        DeviceId::from(&ed25519_dalek::SigningKey::from_bytes(&[b; 32]))
    }

    #[test]
    fn roundtrip_and_every_truncation_refused() {
        let cursors = vec![
            (peer(1), Cursor { epoch: 7, seq: 3 }),
            (
                peer(2),
                Cursor {
                    epoch: u64::MAX,
                    seq: 0,
                },
            ),
        ];
        let bytes = encode(&cursors, None);
        assert_eq!(decode(&bytes, None).unwrap(), cursors);
        assert_eq!(decode(&encode(&[], None), None).unwrap(), Vec::new());
        for cut in 0..bytes.len() {
            // A cut at a record boundary is a shorter valid file; anything else is refused.
            if let Ok(read) = decode(&bytes[..cut], None) {
                assert!(
                    read.len() < cursors.len() && cursors.starts_with(&read),
                    "cut at {cut}"
                );
            }
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(decode(&flipped, None).is_err());
    }
}
