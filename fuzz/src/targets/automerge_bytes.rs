//! `automerge_bytes`: arbitrary bytes through the one validator every parse of peer-supplied
//! Automerge bytes goes through, then through Automerge (HS-SYNC-12).
//!
//! Input: byte 0 modulo 3 picks what the rest is — 0 a saved document (`untrusted::load`),
//! 1 bytes merged into a fixture document (`untrusted::load_incremental`, as DocWhole and
//! DocChanges are), 2 a sync message (`untrusted::decode_sync_message`, then received by a
//! fixture document, which answers, as a DocSync is). Checked: no panic; what the checks admit
//! is within the bounds; a document loaded from admitted bytes saves into bytes the checks admit
//! and that reload to the same heads. Run under a memory limit (scripts/fuzz.sh gives this
//! target `-rss_limit_mb=1024 -malloc_limit_mb=512`): the bounds keep every parse far below it.

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Automerge, ROOT, sync};
use humansync_protocol::limits::{MAX_AUTOMERGE_EXPANDED_BYTES, MAX_AUTOMERGE_ROWS};
use humansync_sansio::untrusted;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => saved(rest),
        1 => incremental(rest),
        _ => sync_message(rest),
    }
}

fn within_bounds(budget: &untrusted::Budget) {
    assert!(budget.expanded() <= MAX_AUTOMERGE_EXPANDED_BYTES);
    assert!(budget.rows() <= MAX_AUTOMERGE_ROWS);
}

fn saved(bytes: &[u8]) {
    let Ok(budget) = untrusted::check_saved(bytes) else {
        assert!(untrusted::load(bytes).is_err(), "load admitted bytes the checks refuse");
        return;
    };
    within_bounds(&budget);
    if let Ok(doc) = untrusted::load(bytes) {
        round_trip(&doc);
    }
}

fn fixture() -> Automerge {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(vec![0xf1; 16]));
    doc.put(ROOT, "title", "fixture").expect("put");
    doc.document().clone()
}

fn incremental(bytes: &[u8]) {
    let mut doc = fixture();
    let checked = untrusted::check_saved(bytes);
    let merged = untrusted::load_incremental(&mut doc, bytes);
    if checked.is_err() {
        assert!(merged.is_err(), "load_incremental admitted bytes the checks refuse");
        return;
    }
    if merged.is_ok() {
        round_trip(&doc);
    }
}

fn sync_message(bytes: &[u8]) {
    let Ok(message) = untrusted::decode_sync_message(bytes) else {
        return;
    };
    let mut doc = fixture();
    let mut state = sync::State::new();
    if doc.receive_sync_message(&mut state, message).is_ok() {
        // Answering consults the peer's Bloom filters.
        if let Some(answer) = doc.generate_sync_message(&mut state) {
            untrusted::check_sync_message(&answer.encode()).expect("our own answer passes");
        }
        round_trip(&doc);
    }
}

/// A loaded document saves into bytes the checks admit and that reload to the same heads.
fn round_trip(doc: &Automerge) {
    let saved = doc.save();
    let budget = untrusted::check_saved(&saved).expect("a save of an admitted document passes");
    within_bounds(&budget);
    let again = untrusted::load(&saved).expect("it reloads");
    assert_eq!(again.get_heads(), doc.get_heads());
}
