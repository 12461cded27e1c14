//! The validator every parse of peer-supplied Automerge bytes goes through (HS-SYNC-12): real
//! Automerge output passes, hostile bytes are refused before anything the bounds have not
//! admitted is allocated. A counting allocator measures the bytes allocated.

mod counting_alloc;

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, sync};
use humansync_protocol::limits::{MAX_AUTOMERGE_EXPANDED_BYTES, MAX_AUTOMERGE_ROWS};
use humansync_sansio::testing::bombs;
use humansync_sansio::untrusted::{self, Budget, UntrustedError};

use counting_alloc::{peak_during, serial};

const MIB: usize = 1 << 20;
const ACTOR: [u8; 16] = [7; 16];

/// A real note: a long text (columns above Automerge's DEFLATE threshold), a map, a list.
fn note() -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "title", "a note").expect("put");
    let text = doc.put_object(ROOT, "body", ObjType::Text).expect("text");
    for i in 0..400 {
        doc.splice_text(&text, i, 0, "lorem ipsum dolor sit amet ")
            .expect("splice");
    }
    let list = doc.put_object(ROOT, "tags", ObjType::List).expect("list");
    for i in 0..50 {
        doc.insert(&list, i, i as i64).expect("insert");
    }
    doc
}

#[test]
fn automerge_output_passes() {
    let _serial = serial();
    // HS-SYNC-12: saves, incremental saves and sync messages Automerge writes all pass.
    let mut doc = note();
    let whole = doc.save();
    untrusted::check_saved(&whole).expect("a save");
    let heads = doc.get_heads();
    let text = doc.put_object(ROOT, "more", ObjType::Text).expect("text");
    doc.splice_text(&text, 0, 0, &"x".repeat(5000)).expect("splice");
    let incremental = doc.save_after(&heads);
    untrusted::check_saved(&incremental).expect("an incremental save");
    let mut both = whole.clone();
    both.extend_from_slice(&incremental);
    let cost = untrusted::check_saved(&both).expect("a save then an incremental save");
    assert!(cost.rows() > 400, "rows are counted: {}", cost.rows());
    untrusted::check_saved(&AutoCommit::new().save()).expect("an empty document");
    let loaded = untrusted::load(&both).expect("loads");
    assert_eq!(loaded.get_heads(), doc.get_heads());

    // A full sync between a doc and an empty one: every message passes and decodes.
    let mut a = doc.document().clone();
    let mut b = automerge::Automerge::new();
    let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
    let mut messages = 0;
    loop {
        let mut progressed = false;
        if let Some(m) = a.generate_sync_message(&mut sa) {
            let bytes = m.encode();
            untrusted::check_sync_message(&bytes).expect("sync message a→b");
            let m = untrusted::decode_sync_message(&bytes).expect("decodes");
            b.receive_sync_message(&mut sb, m).expect("receive");
            progressed = true;
            messages += 1;
        }
        if let Some(m) = b.generate_sync_message(&mut sb) {
            let bytes = m.encode();
            untrusted::check_sync_message(&bytes).expect("sync message b→a");
            let m = untrusted::decode_sync_message(&bytes).expect("decodes");
            a.receive_sync_message(&mut sa, m).expect("receive");
            progressed = true;
            messages += 1;
        }
        if !progressed {
            break;
        }
    }
    assert!(messages >= 2);
    assert_eq!(a.get_heads(), b.get_heads());
}

#[test]
fn garbage_truncation_and_corruption_fail() {
    let _serial = serial();
    // HS-SYNC-12
    let whole = note().save();
    assert_eq!(untrusted::check_saved(b""), Err(UntrustedError::Empty));
    assert_eq!(
        untrusted::check_saved(b"these bytes are not an automerge document"),
        Err(UntrustedError::Magic(0))
    );
    assert!(matches!(
        untrusted::check_saved(&whole[..whole.len() - 1]),
        Err(UntrustedError::Truncated(0))
    ));
    let mut flipped = whole.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(untrusted::check_saved(&flipped), Err(UntrustedError::Checksum(0)));
    let mut trailing = whole.clone();
    trailing.push(0);
    assert_eq!(
        untrusted::check_saved(&trailing),
        Err(UntrustedError::Truncated(whole.len()))
    );
    let mut kind = whole.clone();
    kind[8] = 9;
    assert_eq!(
        untrusted::check_saved(&kind),
        Err(UntrustedError::ChunkType(0, 9))
    );
    // Every prefix of a real save either passes or is refused; none panics.
    for cut in 0..whole.len() {
        let _ = untrusted::check_saved(&whole[..cut]);
    }
}

#[test]
fn small_bombs_are_real_automerge() {
    let _serial = serial();
    // The hostile builders make bytes Automerge accepts: the checks refuse them for their
    // size, not for their form.
    let change = bombs::compressed_change(MIB, ACTOR);
    assert!(change.len() < 8 * 1024, "{} bytes", change.len());
    let cost = untrusted::check_saved(&change).expect("1 MiB is within the bound");
    assert!(cost.expanded() >= MIB as u64);
    let mut doc = automerge::Automerge::new();
    untrusted::load_incremental(&mut doc, &change).expect("automerge applies it");
    assert_eq!(doc.get_heads().len(), 1);
    untrusted::check_saved(&bombs::deflated_column_document(MIB)).expect("within the bound");
    untrusted::check_saved(&bombs::run_length_document(1000)).expect("within the bound");
    untrusted::check_sync_message(&bombs::sync_message(&[change])).expect("within the bound");
    untrusted::check_sync_message(&bombs::sync_message_with_bloom(10, 10, 7, 13)).expect("a normal filter");
}

#[test]
fn inflation_bombs_are_refused_within_a_small_allocation() {
    let _serial = serial();
    // HS-SYNC-12: a compressed change chunk and a DEFLATE'd column that inflate to 256 MiB, and
    // a sync message carrying one, are refused having allocated no more than a few MiB.
    let inflated = 256 * MIB;
    let change = bombs::compressed_change(inflated, ACTOR);
    let column = bombs::deflated_column_document(inflated);
    let message = bombs::sync_message(std::slice::from_ref(&change));
    assert!(change.len() < 512 * 1024 && column.len() < 512 * 1024);
    let too_large = Err(UntrustedError::TooLarge(MAX_AUTOMERGE_EXPANDED_BYTES));
    for (what, result) in [
        (
            "compressed change",
            peak_during(|| untrusted::check_saved(&change).map(|_| ())),
        ),
        (
            "deflated column",
            peak_during(|| untrusted::check_saved(&column).map(|_| ())),
        ),
        (
            "sync message",
            peak_during(|| untrusted::check_sync_message(&message).map(|_| ())),
        ),
        ("load", peak_during(|| untrusted::load(&change).map(|_| ()))),
        (
            "load_incremental",
            peak_during(|| untrusted::load_incremental(&mut automerge::Automerge::new(), &column)),
        ),
        (
            "decode_sync_message",
            peak_during(|| untrusted::decode_sync_message(&message).map(|_| ())),
        ),
    ] {
        let (result, peak) = result;
        assert_eq!(result, too_large, "{what}");
        assert!(peak < 4 * MIB, "{what}: {peak} bytes allocated at peak");
    }
}

#[test]
fn automerge_alone_allocates_the_inflated_size() {
    let _serial = serial();
    // Why the checks exist: Automerge itself allocates at least the inflated size (here 64 MiB,
    // twice the bound) before it can refuse anything.
    let change = bombs::compressed_change(64 * MIB, ACTOR);
    #[allow(clippy::disallowed_methods)]
    let (_, peak) = peak_during(|| automerge::Automerge::new().load_incremental(&change).map(|_| ()));
    assert!(peak >= 64 * MIB, "automerge allocated {peak} bytes");
}

#[test]
fn run_length_bombs_are_refused() {
    let _serial = serial();
    // HS-SYNC-12: a few bytes declaring 2^40 operations.
    let bomb = bombs::run_length_document(1 << 40);
    assert!(bomb.len() < 64);
    assert_eq!(
        untrusted::check_saved(&bomb),
        Err(UntrustedError::TooManyRows(MAX_AUTOMERGE_ROWS))
    );
    assert!(untrusted::check_saved(&bombs::run_length_document(MAX_AUTOMERGE_ROWS - 1)).is_ok());
    // Rows add up over the chunks of one parse.
    let mut two = bombs::run_length_document(MAX_AUTOMERGE_ROWS / 2);
    two.extend(bombs::run_length_document(MAX_AUTOMERGE_ROWS / 2));
    assert!(matches!(
        untrusted::check_saved(&two),
        Err(UntrustedError::TooManyRows(_))
    ));
    // A smaller budget is honoured.
    assert!(
        untrusted::check_saved_within(&bombs::run_length_document(100), Budget::new(1 << 20, 50)).is_err()
    );
}

#[test]
fn hostile_bloom_filters_are_refused() {
    let _serial = serial();
    // HS-SYNC-12: Automerge divides by the filter's bit count and allocates per probe.
    for (entries, bits, probes, len) in [
        (1, 0, 7, 0),
        (1, 10, u32::MAX, 2),
        (1, u32::MAX, 7, 0),
        (100, 10, 7, 3),
    ] {
        let message = bombs::sync_message_with_bloom(entries, bits, probes, len);
        assert_eq!(
            untrusted::check_sync_message(&message),
            Err(UntrustedError::Bloom),
            "{entries} entries, {bits} bits, {probes} probes, {len} bytes"
        );
    }
}
