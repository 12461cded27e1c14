//! The index: doc id → state, so that opening a store never reads document files.
//!
//! Kept in memory; written as a snapshot file at each checkpoint (`MAGIC`, one [`kind::ENTRY`]
//! record per document, an [`kind::END`] record with the count); changes since the snapshot are
//! in the write-ahead log and are replayed at open. A snapshot without its END record or with a
//! bad record is not used: the index is then rebuilt from the document files.

use std::collections::BTreeMap;
use std::io::Write;

use humansync_protocol::DocId;
use humansync_sansio::DocMeta;

use super::codec::{self, Malformed, Reader};
use super::seal::{self, Frame, Sealer};

/// The label binding sealed index records to the index.
const LABEL: &[u8] = b"index";

/// The first bytes of the index snapshot (format version 1).
pub(crate) const MAGIC: &[u8; 8] = b"HSIDX\0\0\x01";

/// Record kinds in the index snapshot.
pub(crate) mod kind {
    /// One document's row.
    pub(crate) const ENTRY: u8 = 0x20;
    /// The end, with the number of rows.
    pub(crate) const END: u8 = 0x21;
}

/// What the store knows about one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryState {
    /// Stored, with this index row.
    Live(DocMeta),
    /// Deleted (HS-DOC-5).
    Tombstone,
    /// Its file was corrupt and moved to the quarantine directory; not rewritten since.
    Quarantined,
}

/// The in-memory index.
pub(crate) type Index = BTreeMap<DocId, EntryState>;

/// How many bytes of a snapshot [`write`] encodes before handing them to the file.
const PIECE: usize = 256 * 1024;

/// Encodes a snapshot of `index` (sealed with a sealer, HS-REST-3).
pub(crate) fn encode(index: &Index, sealer: Option<&Sealer>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a vector cannot fail.
    let _ = write(index, sealer, &mut out);
    out
}

/// Writes the bytes [`encode`] returns to `to`, [`PIECE`] by piece: a checkpoint never holds a
/// whole snapshot in memory (at 100,000 documents it was 12 MiB, 18 with the vector's slack —
/// the largest item of a device's peak heap). Returns the bytes written.
pub(crate) fn write(index: &Index, sealer: Option<&Sealer>, to: &mut impl Write) -> std::io::Result<u64> {
    let (mut out, salt) = seal::header(sealer, MAGIC);
    // Records are sealed at their position in the file: `written` + their place in `out`.
    let mut written = 0u64;
    let mut row = Vec::new();
    for (doc, state) in index {
        if out.len() >= PIECE {
            to.write_all(&out)?;
            written += out.len() as u64;
            out.clear();
        }
        row.clear();
        codec::put_doc_id(&mut row, doc);
        match state {
            EntryState::Live(meta) => {
                row.push(0);
                codec::put_meta(&mut row, meta);
            }
            EntryState::Tombstone => row.push(1),
            EntryState::Quarantined => row.push(2),
        }
        // A row is at most ~140 KiB (MAX_HEADS and MAX_BLOB_REFS hashes), far below the limit.
        let _ = Frame::new(sealer, LABEL, salt, written).push(&mut out, kind::ENTRY, &[&row]);
    }
    let end = (index.len() as u64).to_le_bytes();
    let _ = Frame::new(sealer, LABEL, salt, written).push(&mut out, kind::END, &[&end]);
    to.write_all(&out)?;
    Ok(written + out.len() as u64)
}

/// Decodes a snapshot; an error means the snapshot must not be trusted.
pub(crate) fn decode(bytes: &[u8], sealer: Option<&Sealer>) -> Result<Index, String> {
    let (salt, start) = seal::read_header(sealer, MAGIC, bytes)?;
    // Rows are gathered first and the map built from all of them at once: a `BTreeMap` built by
    // inserting ascending keys leaves every node about half full (~1.7x the nodes' bytes; about
    // 5 MiB more at 100,000 documents, for as long as the store is open), one built by `collect`
    // packs them.
    let mut rows = Vec::new();
    for r in Frame::new(sealer, LABEL, salt, 0).iter(bytes, start) {
        let (kind, payload) = r.map_err(|bad| bad.to_string())?;
        let mut reader = Reader::new(&payload);
        match kind {
            kind::ENTRY => rows.push(entry(&mut reader).map_err(|e| e.to_string())?),
            kind::END => {
                let count = reader.u64().map_err(|e| e.to_string())?;
                reader.finish().map_err(|e| e.to_string())?;
                // Duplicate ids collapse to the last row, as inserting them one by one did.
                let index: Index = rows.into_iter().collect();
                if count != index.len() as u64 {
                    return Err(format!("END says {count} rows, found {}", index.len()));
                }
                return Ok(index);
            }
            _ => return Err("unknown record kind".to_owned()),
        }
    }
    Err("snapshot has no END record".to_owned())
}

fn entry(r: &mut Reader<'_>) -> Result<(DocId, EntryState), Malformed> {
    let doc = codec::doc_id(r)?;
    let state = match r.u8()? {
        0 => EntryState::Live(codec::meta(r)?),
        1 => EntryState::Tombstone,
        2 => EntryState::Quarantined,
        _ => return Err(Malformed("entry state")),
    };
    r.finish()?;
    Ok((doc, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync_protocol::ChangeHash;

    fn sample() -> Index {
        let mut index = Index::new();
        let meta = DocMeta {
            heads: humansync_sansio::Heads::from_slice(&[ChangeHash([7; 32])]),
            ..DocMeta::default()
        };
        index.insert(DocId::new("a/1").unwrap(), EntryState::Live(meta));
        index.insert(DocId::new("a/2").unwrap(), EntryState::Tombstone);
        index.insert(DocId::new("a/3").unwrap(), EntryState::Quarantined);
        index
    }

    #[test]
    fn snapshot_roundtrip() {
        let index = sample();
        assert_eq!(decode(&encode(&index, None), None).unwrap(), index);
        assert_eq!(decode(&encode(&Index::new(), None), None).unwrap(), Index::new());
        let s = Sealer::new(&crate::keys::DataKey::from_bytes([6; 32])).unwrap();
        let sealed = encode(&index, Some(&s));
        assert_eq!(decode(&sealed, Some(&s)).unwrap(), index);
        assert!(!sealed.windows(3).any(|w| w == b"a/1"), "doc id visible");
        assert!(decode(&sealed, None).is_err());
    }

    #[test]
    fn a_snapshot_written_piece_by_piece_decodes_sealed_and_plain() {
        // Enough rows for several pieces: records sealed past the first piece carry their
        // position in the file, not in the piece.
        let mut index = Index::new();
        for i in 0..20_000 {
            let meta = DocMeta {
                heads: humansync_sansio::Heads::from_slice(&[ChangeHash([(i % 251) as u8; 32])]),
                ..DocMeta::default()
            };
            index.insert(
                DocId::new(format!("notes/{i:06}")).unwrap(),
                EntryState::Live(meta),
            );
        }
        let s = Sealer::new(&crate::keys::DataKey::from_bytes([6; 32])).unwrap();
        for sealer in [None, Some(&s)] {
            let mut file = Vec::new();
            let written = write(&index, sealer, &mut file).unwrap();
            assert!(file.len() > 2 * PIECE, "{} bytes: one piece only", file.len());
            assert_eq!(written, file.len() as u64);
            assert_eq!(decode(&file, sealer).unwrap(), index);
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        let s = Sealer::new(&crate::keys::DataKey::from_bytes([6; 32])).unwrap();
        for sealer in [None, Some(&s)] {
            let bytes = encode(&sample(), sealer);
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut], sealer).is_err(), "cut at {cut} accepted");
            }
        }
    }
}
