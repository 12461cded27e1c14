//! The documents the benchmarks sync: note-sized Automerge documents (a title and a text body
//! typed in ~50 edits, ~2,000 operations),
//! and a node's storage (a device's, or `humansync-server`'s `data_dir/node`) preloaded with them
//! through the public store API.

use std::path::Path;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use humansync::protocol::{ChangeHash, DocId};
use humansync::store::StoreOp;
use humansync_sansio::{DocMeta, DocWrite};

/// Edits per note (each one Automerge change).
pub const CHANGES: usize = 50;
/// Characters typed per edit after the first: 49 × 40 + title ≈ 2,000 operations.
const CHARS_PER_CHANGE: usize = 40;

/// One note: its id and its saved bytes.
pub struct Note {
    /// The document id ([`note_id`]).
    pub id: DocId,
    /// `Automerge::save()` of the note.
    pub saved: Vec<u8>,
    /// Its heads, sorted.
    pub heads: Vec<ChangeHash>,
}

/// The id of note `i`, spread over the id space the way random ids are.
pub fn note_id(i: usize) -> DocId {
    let n = (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c);
    DocId::new(format!("notes/{n:032x}")).expect("a fixed-form id is valid")
}

/// Builds note `i`: a title, then a body typed in [`CHANGES`] edits, by its own actor.
pub fn note(i: usize) -> Note {
    let mut actor = vec![0xA5u8; 8];
    actor.extend_from_slice(&(i as u64).to_be_bytes());
    let mut am = AutoCommit::new().with_actor(ActorId::from(actor));
    am.put(ROOT, "title", format!("Note number {i}"))
        .expect("put title");
    let body = am.put_object(ROOT, "body", ObjType::Text).expect("body");
    // Edits carry wall-clock times, as apps' changes do (a few seconds apart).
    let mut time = 1_750_000_000_000i64 + (i as i64) * 86_400_000;
    am.commit_with(CommitOptions::default().with_time(time));
    let mut seed = i as u64 ^ 0x2545_f491_4f6c_dd1d;
    let mut len = 0usize;
    for _ in 1..CHANGES {
        // Letters and spaces at random: typed prose compresses about as poorly once columnar.
        let text: String = (0..CHARS_PER_CHANGE)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                match seed % 32 {
                    n @ 0..=25 => char::from(b'a' + n as u8),
                    _ => ' ',
                }
            })
            .collect();
        // Mostly typing at the end; every fourth edit inserts in the middle, as revisions do.
        let at = if seed.is_multiple_of(4) {
            (seed as usize >> 8) % (len + 1)
        } else {
            len
        };
        am.splice_text(&body, at, 0, &text).expect("splice");
        len += text.len();
        time += 1_000 + (seed % 60_000) as i64;
        am.commit_with(CommitOptions::default().with_time(time));
    }
    let saved = am.save();
    let mut heads: Vec<ChangeHash> = am.get_heads().into_iter().map(|h| ChangeHash(h.0)).collect();
    heads.sort();
    Note {
        id: note_id(i),
        saved,
        heads,
    }
}

/// Builds notes `0..n` on two threads (the fixture for 10,000 takes a few seconds, 100,000 about
/// 100 s). With `HS_BENCH_FIXTURE_CACHE=DIR` the notes are read from (or, the first time,
/// written to) a file in `DIR` named by `n` and the generator's parameters: the generator is
/// deterministic, so a cached fixture is the same notes.
pub fn build_notes(n: usize) -> Vec<Note> {
    let Some(dir) = std::env::var_os("HS_BENCH_FIXTURE_CACHE") else {
        return generate_notes(n);
    };
    let path = std::path::Path::new(&dir).join(format!("notes-{n}-{CHANGES}x{CHARS_PER_CHANGE}.bin"));
    if let Some(notes) = std::fs::read(&path)
        .ok()
        .and_then(|bytes| decode_cache(&bytes, n))
    {
        return notes;
    }
    let notes = generate_notes(n);
    let _ = std::fs::create_dir_all(&dir);
    if let Err(e) = std::fs::write(&path, encode_cache(&notes)) {
        eprintln!("fixture cache {} not written: {e}", path.display());
    }
    notes
}

/// The cache file: per note, the saved length (u32 LE), the saved bytes, the head count (u8)
/// and the heads.
fn encode_cache(notes: &[Note]) -> Vec<u8> {
    let mut out = Vec::new();
    for note in notes {
        out.extend_from_slice(&(note.saved.len() as u32).to_le_bytes());
        out.extend_from_slice(&note.saved);
        out.push(note.heads.len() as u8);
        for head in &note.heads {
            out.extend_from_slice(&head.0);
        }
    }
    out
}

/// Reads [`encode_cache`]'s file; `None` if it is not `n` well-formed notes.
fn decode_cache(mut bytes: &[u8], n: usize) -> Option<Vec<Note>> {
    let mut notes = Vec::with_capacity(n);
    for i in 0..n {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let saved = bytes.get(4..4 + len)?.to_vec();
        let count = usize::from(*bytes.get(4 + len)?);
        bytes = bytes.get(5 + len..)?;
        let mut heads = Vec::with_capacity(count);
        for _ in 0..count {
            heads.push(ChangeHash(bytes.get(..32)?.try_into().ok()?));
            bytes = bytes.get(32..)?;
        }
        notes.push(Note {
            id: note_id(i),
            saved,
            heads,
        });
    }
    bytes.is_empty().then_some(notes)
}

/// Generates notes `0..n` on two threads.
fn generate_notes(n: usize) -> Vec<Note> {
    let half = n / 2;
    std::thread::scope(|s| {
        let first = s.spawn(|| (0..half).map(note).collect::<Vec<_>>());
        let second: Vec<Note> = (half..n).map(note).collect();
        let mut all = first.join().expect("fixture thread");
        all.extend(second);
        all
    })
}

/// Sum of the notes' saved sizes in bytes.
pub fn saved_bytes(notes: &[Note]) -> u64 {
    notes.iter().map(|n| n.saved.len() as u64).sum()
}

/// Writes `notes` into the document store of a library node under `storage` (as the server peer
/// would hold them after syncing them once), encrypted as [`crate::node::config`] opens it.
pub fn preload(storage: &Path, notes: &[Note]) {
    preload_with(storage, notes, &crate::node::data_key());
}

/// Writes `notes` into the document store under `storage`, encrypted with `key` (a
/// `humansync-server` node: [`humansync::KeySource::Off`], its default), one durable batch per
/// 1,000 documents, then checkpoints.
pub fn preload_with(storage: &Path, notes: &[Note], key: &humansync::KeySource) {
    let mut store = humansync::open_store(storage, key).expect("open store");
    for chunk in notes.chunks(1000) {
        let batch: Vec<StoreOp> = chunk
            .iter()
            .map(|n| StoreOp::Save {
                doc: n.id.clone(),
                write: Some(DocWrite::Replace(n.saved.clone().into())),
                meta: DocMeta {
                    heads: n.heads.iter().copied().collect(),
                    blobs: Box::default(),
                    tombstone: false,
                },
                sync_states: Vec::new(),
            })
            .collect();
        store.apply(&batch).expect("apply batch");
    }
    store.checkpoint().expect("checkpoint");
    store.close().expect("close store");
}
