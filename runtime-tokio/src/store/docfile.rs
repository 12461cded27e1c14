//! The per-document file: `MAGIC`, an id record, then records appended by saves.
//!
//! | kind | payload | meaning |
//! |------|---------|---------|
//! | [`kind::ID`] | doc id | first record: whose file this is |
//! | [`kind::CHUNK`] | Automerge bytes | a save or an appended change chunk |
//! | [`kind::SYNC`] | peer id (32) ‖ state | a peer's sync state (the last one per peer wins) |
//! | [`kind::META`] | index row | the document's index row after the save it ends |
//! | [`kind::TOMBSTONE`] | empty | the document is deleted (HS-DOC-5) |
//!
//! Every save ends with a META record, so a file is self-describing: the index can be rebuilt
//! from the files, and a load checks that the file's last META equals the index row (a file cut
//! at a record boundary passes every checksum, but not this check).

use std::collections::BTreeMap;

use humansync_protocol::{DeviceId, DocId};
use humansync_sansio::{DocMeta, PeerSyncState};

use super::codec::{self, Reader};
use super::index::EntryState;
use super::record;

/// The first bytes of every document file (format version 1).
pub(crate) const MAGIC: &[u8; 8] = b"HSDOC\0\0\x01";

/// Record kinds in document files.
pub(crate) mod kind {
    /// The document id.
    pub(crate) const ID: u8 = 1;
    /// Automerge bytes.
    pub(crate) const CHUNK: u8 = 2;
    /// A peer's sync state.
    pub(crate) const SYNC: u8 = 3;
    /// An index row.
    pub(crate) const META: u8 = 4;
    /// A deletion.
    pub(crate) const TOMBSTONE: u8 = 5;
}

/// A new file's first bytes: the magic and the id record.
pub(crate) fn fresh(doc: &DocId) -> Vec<u8> {
    let mut id = Vec::with_capacity(201);
    codec::put_doc_id(&mut id, doc);
    let mut out = MAGIC.to_vec();
    // An id record is at most 201 bytes, far below the record limit.
    let _ = record::push(&mut out, kind::ID, &[&id]);
    out
}

/// Appends the records of one save; `None` when a payload exceeds the record limit.
pub(crate) fn push_save(
    out: &mut Vec<u8>,
    chunk: Option<&[u8]>,
    sync_states: &[PeerSyncState],
    meta: &DocMeta,
) -> Option<()> {
    if let Some(chunk) = chunk {
        record::push(out, kind::CHUNK, &[chunk])?;
    }
    for (peer, state) in sync_states {
        record::push(out, kind::SYNC, &[peer.as_bytes(), state])?;
    }
    let mut row = Vec::new();
    codec::put_meta(&mut row, meta);
    record::push(out, kind::META, &[&row])
}

/// Appends a tombstone record.
pub(crate) fn push_tombstone(out: &mut Vec<u8>) {
    // An empty payload always fits.
    let _ = record::push(out, kind::TOMBSTONE, &[]);
}

/// A document file's content.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// The concatenated Automerge bytes.
    pub(crate) chunks: Vec<u8>,
    /// The last sync state per peer.
    pub(crate) sync: BTreeMap<DeviceId, Vec<u8>>,
    /// The state the last META or TOMBSTONE record left, `None` if there was none.
    pub(crate) state: Option<EntryState>,
    /// Records after the id record.
    pub(crate) records: usize,
}

impl Parsed {
    /// The sync states as the core wants them.
    pub(crate) fn sync_states(&self) -> Vec<PeerSyncState> {
        self.sync.iter().map(|(p, s)| (*p, s.clone())).collect()
    }
}

/// Parses a whole file and checks it belongs to `expect` (when given). Any bad record, a missing
/// magic or id record, or a payload that does not decode is an error describing the fault.
pub(crate) fn parse(bytes: &[u8], expect: Option<&DocId>) -> Result<(DocId, Parsed), String> {
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err("not a document file (bad magic)".to_owned());
    }
    let mut records = record::iter(bytes, MAGIC.len());
    let doc = match records.next() {
        Some(Ok(r)) if r.kind == kind::ID => {
            let mut reader = Reader::new(r.payload);
            let doc = codec::doc_id(&mut reader).map_err(|e| e.to_string())?;
            reader.finish().map_err(|e| e.to_string())?;
            doc
        }
        Some(Err(bad)) => return Err(bad.to_string()),
        _ => return Err("missing id record".to_owned()),
    };
    if let Some(expect) = expect
        && *expect != doc
    {
        return Err(format!("file belongs to {doc}"));
    }
    let mut parsed = Parsed::default();
    for r in records {
        let r = r.map_err(|bad| bad.to_string())?;
        parsed.records += 1;
        apply_record(&mut parsed, r).map_err(|e| e.to_string())?;
    }
    Ok((doc, parsed))
}

fn apply_record(parsed: &mut Parsed, r: record::Record<'_>) -> Result<(), codec::Malformed> {
    match r.kind {
        kind::CHUNK => parsed.chunks.extend_from_slice(r.payload),
        kind::SYNC => {
            let (peer, state) = codec::sync_state(r.payload)?;
            parsed.sync.insert(peer, state.to_vec());
        }
        kind::META => {
            let mut reader = Reader::new(r.payload);
            let meta = codec::meta(&mut reader)?;
            reader.finish()?;
            parsed.state = Some(EntryState::Live(meta));
        }
        kind::TOMBSTONE => {
            parsed.chunks.clear();
            parsed.sync.clear();
            parsed.state = Some(EntryState::Tombstone);
        }
        _ => return Err(codec::Malformed("unknown record kind")),
    }
    Ok(())
}

/// The id a file names, if its magic and id record are intact.
pub(crate) fn parse_id(bytes: &[u8]) -> Option<DocId> {
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return None;
    }
    let r = record::iter(bytes, MAGIC.len()).next()?.ok()?;
    (r.kind == kind::ID).then_some(())?;
    codec::doc_id(&mut Reader::new(r.payload)).ok()
}

/// The state a whole file written by this module leaves (see [`fragment_state`]).
pub(crate) fn file_state(bytes: &[u8]) -> Option<EntryState> {
    let mut records = record::iter(bytes, MAGIC.len());
    records.next()?.ok()?;
    fragment_state(bytes.get(records.position()..)?)
}

/// The state the records in `fragment` (written by this module, without magic or id) leave.
pub(crate) fn fragment_state(fragment: &[u8]) -> Option<EntryState> {
    let mut state = None;
    for r in record::iter(fragment, 0) {
        let r = r.ok()?;
        match r.kind {
            kind::META => state = Some(EntryState::Live(codec::meta(&mut Reader::new(r.payload)).ok()?)),
            kind::TOMBSTONE => state = Some(EntryState::Tombstone),
            _ => {}
        }
    }
    state
}

/// The same content in the fewest records: one chunk, one sync state per peer, the last row.
pub(crate) fn compacted(doc: &DocId, parsed: &Parsed) -> Option<Vec<u8>> {
    let mut out = fresh(doc);
    match &parsed.state {
        Some(EntryState::Tombstone) => push_tombstone(&mut out),
        Some(EntryState::Live(meta)) => {
            let chunk = (!parsed.chunks.is_empty()).then_some(&parsed.chunks[..]);
            push_save(&mut out, chunk, &parsed.sync_states(), meta)?;
        }
        Some(EntryState::Quarantined) | None => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync_protocol::ChangeHash;

    fn doc() -> DocId {
        DocId::new("app/one").unwrap()
    }

    fn peer() -> DeviceId {
        // The Ed25519 base point encoding is a valid key.
        let mut b = [0u8; 32];
        b[0] = 0x58;
        b[1..].fill(0x66);
        DeviceId::from_bytes(b).unwrap()
    }

    #[test]
    fn saves_accumulate_and_compact_to_the_same_content() {
        let meta1 = DocMeta {
            heads: vec![ChangeHash([1; 32])],
            ..DocMeta::default()
        };
        let meta2 = DocMeta {
            heads: vec![ChangeHash([2; 32])],
            ..DocMeta::default()
        };
        let mut file = fresh(&doc());
        push_save(&mut file, Some(b"abc"), &[(peer(), b"s1".to_vec())], &meta1).unwrap();
        push_save(&mut file, Some(b"def"), &[(peer(), b"s2".to_vec())], &meta2).unwrap();
        let (id, parsed) = parse(&file, Some(&doc())).unwrap();
        assert_eq!(id, doc());
        assert_eq!(parsed.chunks, b"abcdef");
        assert_eq!(parsed.sync_states(), vec![(peer(), b"s2".to_vec())]);
        assert_eq!(parsed.state, Some(EntryState::Live(meta2.clone())));
        assert_eq!(parsed.records, 6);

        let small = compacted(&doc(), &parsed).unwrap();
        assert!(small.len() < file.len());
        let (_, again) = parse(&small, None).unwrap();
        assert_eq!(
            (&again.chunks, again.sync_states()),
            (&parsed.chunks, parsed.sync_states())
        );
        assert_eq!(again.state, Some(EntryState::Live(meta2)));
        assert_eq!(again.records, 3);
    }

    #[test]
    fn wrong_owner_and_bad_magic_are_errors() {
        let file = fresh(&doc());
        assert!(parse(&file, Some(&DocId::new("app/two").unwrap())).is_err());
        assert!(parse(&file[1..], None).is_err());
        assert!(parse(&file[..file.len() - 1], None).is_err());
    }
}
