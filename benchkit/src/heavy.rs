//! A heavy document: a long text typed one character per Automerge change, with backspaces and
//! cursor jumps, as a paper written in an editor that commits every keystroke (issue 22 §1b).
//! Seeded, so every run builds the same bytes.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use humansync::protocol::{ChangeHash, DocId};

/// The root key of the text object.
pub const TEXT_KEY: &str = "text";
/// Changes of the full-size document (about the paper measured in issue 22: ~260,000 changes,
/// ~105,000 characters).
pub const FULL_CHANGES: usize = 250_000;
/// Per mille of keystrokes that are a backspace (the rest insert one character): with 29%
/// deletions, 250,000 changes leave about 105,000 characters.
const BACKSPACE_PER_MILLE: u64 = 290;
/// Keystrokes per editing session: each session is one device's actor (a laptop and a desktop,
/// taking turns).
const SESSION: usize = 25_000;

/// A generated heavy document.
pub struct Heavy {
    /// Its id.
    pub id: DocId,
    /// `Automerge::save()` of it.
    pub saved: Vec<u8>,
    /// Its heads, sorted.
    pub heads: Vec<ChangeHash>,
    /// Changes in its history.
    pub changes: usize,
    /// Characters of the final text.
    pub chars: usize,
}

/// The id of the heavy document.
pub fn heavy_id() -> DocId {
    DocId::new("papers/heavy").expect("a fixed id is valid")
}

/// Types a text in `changes` single-character changes (inserts and backspaces at a cursor that
/// now and then jumps elsewhere), from `seed`.
pub fn heavy(changes: usize, seed: u64) -> Heavy {
    let mut am = AutoCommit::new().with_actor(actor(0));
    let text = am.put_object(ROOT, TEXT_KEY, ObjType::Text).expect("text");
    let mut time = 1_760_000_000_000i64;
    am.commit_with(CommitOptions::default().with_time(time));
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut len, mut cursor) = (0usize, 0usize);
    for i in 1..changes {
        if i % SESSION == 0 {
            am.set_actor(actor(i / SESSION % 2));
            time += 3_600_000;
        }
        let r = next();
        // A revision: the cursor moves somewhere else in the text.
        if r % 400 == 0 {
            cursor = (next() as usize) % (len + 1);
        }
        if r % 1000 < BACKSPACE_PER_MILLE && cursor > 0 {
            am.splice_text(&text, cursor - 1, 1, "").expect("backspace");
            cursor -= 1;
            len -= 1;
        } else {
            let c = match next() % 64 {
                n @ 0..=25 => char::from(b'a' + n as u8),
                n @ 26..=35 => char::from(b'a' + (n - 26) as u8),
                36..=37 => '\n',
                38..=39 => '.',
                _ => ' ',
            };
            am.splice_text(&text, cursor, 0, c.encode_utf8(&mut [0; 4]))
                .expect("type");
            cursor += 1;
            len += 1;
        }
        time += 50 + (r >> 20) as i64 % 400;
        am.commit_with(CommitOptions::default().with_time(time));
    }
    let saved = am.save();
    let mut heads: Vec<ChangeHash> = am.get_heads().into_iter().map(|h| ChangeHash(h.0)).collect();
    heads.sort();
    Heavy {
        id: heavy_id(),
        saved,
        heads,
        changes,
        chars: len,
    }
}

fn actor(n: usize) -> ActorId {
    let mut id = vec![0x5Au8; 8];
    id.extend_from_slice(&(n as u64).to_be_bytes());
    ActorId::from(id)
}
