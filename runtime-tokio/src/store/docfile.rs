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
//!
//! In an encrypted store every record is sealed (seal.rs) with the file's keyed name as label and
//! the salt of its header: the id record proves whose file it is, and records cannot move
//! between files, offsets or versions of a file.

use std::collections::BTreeMap;

use humansync_protocol::{DeviceId, DocId};
use humansync_sansio::{DocMeta, PeerSyncState};

use super::codec::{self, Reader};
use super::index::EntryState;
use super::seal::{self, Frame, Salt, Sealer};

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

/// A new file's first bytes (the magic, the salt when sealed, the id record) and its salt.
/// `label` is the file's name key.
pub(crate) fn fresh(sealer: Option<&Sealer>, label: &[u8], doc: &DocId) -> (Vec<u8>, Salt) {
    let mut id = Vec::with_capacity(201);
    codec::put_doc_id(&mut id, doc);
    let (mut out, salt) = seal::header(sealer, MAGIC);
    // An id record is at most 201 bytes, far below the record limit.
    let _ = Frame::new(sealer, label, salt, 0).push(&mut out, kind::ID, &[&id]);
    (out, salt)
}

/// Appends the records of one save to `out`, whose first byte sits where `frame` says;
/// `None` when a payload exceeds the record limit.
pub(crate) fn push_save(
    out: &mut Vec<u8>,
    frame: Frame<'_>,
    chunk: Option<&[u8]>,
    sync_states: &[PeerSyncState],
    meta: &DocMeta,
) -> Option<()> {
    if let Some(chunk) = chunk {
        frame.push(out, kind::CHUNK, &[chunk])?;
    }
    for (peer, state) in sync_states {
        frame.push(out, kind::SYNC, &[peer.as_bytes(), state])?;
    }
    let mut row = Vec::new();
    codec::put_meta(&mut row, meta);
    frame.push(out, kind::META, &[&row])
}

/// Appends a tombstone record.
pub(crate) fn push_tombstone(out: &mut Vec<u8>, frame: Frame<'_>) {
    // An empty payload always fits.
    let _ = frame.push(out, kind::TOMBSTONE, &[]);
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

/// The salt of a file's header (zero for a plain file), if the header is intact.
pub(crate) fn salt(sealer: Option<&Sealer>, bytes: &[u8]) -> Option<Salt> {
    seal::read_header(sealer, MAGIC, bytes).ok().map(|(salt, _)| salt)
}

/// Bytes of a file's header (what [`salt`] needs to read).
pub(crate) fn header_len(sealer: Option<&Sealer>) -> usize {
    MAGIC.len() + if sealer.is_some() { seal::SALT_LEN } else { 0 }
}

/// Parses a whole file and checks it belongs to `expect` (when given). Any bad record, a missing
/// magic or id record, or a payload that does not decode is an error describing the fault.
pub(crate) fn parse(
    bytes: &[u8],
    sealer: Option<&Sealer>,
    label: &[u8],
    expect: Option<&DocId>,
) -> Result<(DocId, Parsed), String> {
    let (salt, start) =
        seal::read_header(sealer, MAGIC, bytes).map_err(|e| format!("not a document file: {e}"))?;
    let mut records = Frame::new(sealer, label, salt, 0).iter(bytes, start);
    let doc = match records.next() {
        Some(Ok((kind::ID, payload))) => {
            let mut reader = Reader::new(&payload);
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
        let (kind, payload) = r.map_err(|bad| bad.to_string())?;
        parsed.records += 1;
        apply_record(&mut parsed, kind, &payload).map_err(|e| e.to_string())?;
    }
    Ok((doc, parsed))
}

fn apply_record(parsed: &mut Parsed, kind: u8, payload: &[u8]) -> Result<(), codec::Malformed> {
    match kind {
        kind::CHUNK => parsed.chunks.extend_from_slice(payload),
        kind::SYNC => {
            let (peer, state) = codec::sync_state(payload)?;
            parsed.sync.insert(peer, state.to_vec());
        }
        kind::META => {
            let mut reader = Reader::new(payload);
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

/// The id a file names, if its header and id record are intact.
pub(crate) fn parse_id(bytes: &[u8], sealer: Option<&Sealer>, label: &[u8]) -> Option<DocId> {
    let (salt, start) = seal::read_header(sealer, MAGIC, bytes).ok()?;
    let (kind, payload) = Frame::new(sealer, label, salt, 0)
        .iter(bytes, start)
        .next()?
        .ok()?;
    (kind == kind::ID).then_some(())?;
    codec::doc_id(&mut Reader::new(&payload)).ok()
}

/// The state a whole file written by this module leaves (see [`fragment_state`]).
pub(crate) fn file_state(bytes: &[u8], sealer: Option<&Sealer>, label: &[u8]) -> Option<EntryState> {
    let (salt, start) = seal::read_header(sealer, MAGIC, bytes).ok()?;
    let frame = Frame::new(sealer, label, salt, 0);
    let mut records = super::record::iter(bytes, start);
    records.next()?.ok()?;
    let rest = records.position();
    fragment_state(bytes.get(rest..)?, frame.at(rest as u64))
}

/// The state the records in `fragment` (written by this module, without header or id, its first
/// byte where `frame` says) leave. Only state records are opened: chunks are not decrypted here.
pub(crate) fn fragment_state(fragment: &[u8], frame: Frame<'_>) -> Option<EntryState> {
    let mut state = None;
    let mut records = super::record::iter(fragment, 0);
    loop {
        let at = records.position();
        let Some(r) = records.next() else { break };
        let r = r.ok()?;
        match r.kind {
            kind::META => {
                let row = frame.open_at(at, r.kind, r.payload).ok()?;
                state = Some(EntryState::Live(codec::meta(&mut Reader::new(&row)).ok()?));
            }
            kind::TOMBSTONE => state = Some(EntryState::Tombstone),
            _ => {}
        }
    }
    state
}

/// The same content in the fewest records (a new file, new salt): one chunk, one sync state per
/// peer, the last row.
pub(crate) fn compacted(
    sealer: Option<&Sealer>,
    label: &[u8],
    doc: &DocId,
    parsed: &Parsed,
) -> Option<Vec<u8>> {
    let (mut out, salt) = fresh(sealer, label, doc);
    let frame = Frame::new(sealer, label, salt, 0);
    match &parsed.state {
        Some(EntryState::Tombstone) => push_tombstone(&mut out, frame),
        Some(EntryState::Live(meta)) => {
            let chunk = (!parsed.chunks.is_empty()).then_some(&parsed.chunks[..]);
            push_save(&mut out, frame, chunk, &parsed.sync_states(), meta)?;
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
            heads: humansync_sansio::Heads::from_slice(&[ChangeHash([1; 32])]),
            ..DocMeta::default()
        };
        let meta2 = DocMeta {
            heads: humansync_sansio::Heads::from_slice(&[ChangeHash([2; 32])]),
            ..DocMeta::default()
        };
        for sealer in [
            None,
            Some(Sealer::new(&crate::keys::DataKey::from_bytes([5; 32])).unwrap()),
        ] {
            check_saves(sealer.as_ref(), meta1.clone(), meta2.clone());
        }
    }

    fn check_saves(sealer: Option<&Sealer>, meta1: DocMeta, meta2: DocMeta) {
        let label = b"label";
        let (mut file, salt) = fresh(sealer, label, &doc());
        let frame = Frame::new(sealer, label, salt, 0);
        push_save(
            &mut file,
            frame,
            Some(b"abc"),
            &[(peer(), b"s1".to_vec())],
            &meta1,
        )
        .unwrap();
        let mut tail = Vec::new();
        push_save(
            &mut tail,
            frame.at(file.len() as u64),
            Some(b"def"),
            &[(peer(), b"s2".to_vec())],
            &meta2,
        )
        .unwrap();
        assert_eq!(
            fragment_state(&tail, frame.at(file.len() as u64)),
            Some(EntryState::Live(meta2.clone()))
        );
        file.extend_from_slice(&tail);
        assert_eq!(
            file_state(&file, sealer, label),
            Some(EntryState::Live(meta2.clone()))
        );
        assert_eq!(sealer.is_some(), !file.windows(3).any(|w| w == b"abc"));
        let (id, parsed) = parse(&file, sealer, label, Some(&doc())).unwrap();
        assert_eq!(id, doc());
        assert_eq!(parsed.chunks, b"abcdef");
        assert_eq!(parsed.sync_states(), vec![(peer(), b"s2".to_vec())]);
        assert_eq!(parsed.state, Some(EntryState::Live(meta2.clone())));
        assert_eq!(parsed.records, 6);

        let small = compacted(sealer, label, &doc(), &parsed).unwrap();
        assert!(small.len() < file.len());
        let (_, again) = parse(&small, sealer, label, None).unwrap();
        assert_eq!(
            (&again.chunks, again.sync_states()),
            (&parsed.chunks, parsed.sync_states())
        );
        assert_eq!(again.state, Some(EntryState::Live(meta2)));
        assert_eq!(again.records, 3);
    }

    #[test]
    fn wrong_owner_and_bad_magic_are_errors() {
        let (file, _) = fresh(None, b"l", &doc());
        assert!(parse(&file, None, b"l", Some(&DocId::new("app/two").unwrap())).is_err());
        assert!(parse(&file[1..], None, b"l", None).is_err());
        assert!(parse(&file[..file.len() - 1], None, b"l", None).is_err());
    }
}
