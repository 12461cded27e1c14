//! automerge_bytes.json: the checks a node MUST make on peer-supplied Automerge bytes before it
//! parses, stores or forwards them (HS-SYNC-12) — real Automerge output passes; broken framing,
//! bad checksums, and small inputs that inflate or expand beyond the bounds are refused.

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, sync};
use humansync_protocol::CloseCode;
use humansync_protocol::limits::{MAX_AUTOMERGE_EXPANDED_BYTES, MAX_AUTOMERGE_ROWS};
use humansync_sansio::testing::bombs;
use serde_json::json;

use super::Cases;
use super::bytes::hx;
use crate::format::{Case, Expect};

pub(crate) const DESCRIPTION: &str = "Peer-supplied Automerge bytes (HS-SYNC-12). `automerge_saved` \
cases are DocWhole / DocChanges bytes (Automerge chunks); `automerge_sync_message` cases are \
DocSync messages. Valid: the receiver may parse, store and forward them. Invalid: it discards \
them before any Automerge parse and closes with CLOSE_PROTOCOL; none of them may cost more than \
the bounds (MAX_AUTOMERGE_EXPANDED_BYTES, MAX_AUTOMERGE_ROWS, MAX_BLOOM_PROBES, \
MAX_BLOOM_BITS_PER_ENTRY) to refuse.";

const R: &[&str] = &["HS-SYNC-12"];
const MIB: usize = 1 << 20;

fn valid(cases: &mut Cases, kind: &str, what: &str, input: &[u8]) {
    cases.push(
        Case::new(String::new(), kind, R, what, Expect::Valid)
            .with("input", hx(input))
            .expect(json!({})),
    );
}

fn invalid(cases: &mut Cases, kind: &str, what: &str, input: &[u8], reason: &str) {
    cases.push(
        Case::new(String::new(), kind, R, what, Expect::Invalid)
            .with("input", hx(input))
            .because(reason)
            .expect(json!({"close_code": CloseCode::PROTOCOL.0})),
    );
}

fn note() -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(vec![0xc1; 16]));
    doc.put(ROOT, "title", "a note").expect("put");
    let text = doc.put_object(ROOT, "body", ObjType::Text).expect("text");
    doc.splice_text(&text, 0, 0, &"lorem ipsum ".repeat(200))
        .expect("splice");
    doc
}

/// Every case.
pub(crate) fn cases() -> Cases {
    let mut c = Cases::new("am");
    let s = "automerge_saved";
    let m = "automerge_sync_message";
    let mut doc = note();
    let whole = doc.save();
    let heads = doc.get_heads();
    doc.put(ROOT, "title", "renamed").expect("put");
    let incremental = doc.save_after(&heads);
    valid(&mut c, s, "a save with DEFLATE'd columns", &whole);
    valid(&mut c, s, "an incremental save (a change chunk)", &incremental);
    valid(
        &mut c,
        s,
        "a save followed by an incremental save",
        &[whole.clone(), incremental].concat(),
    );
    let small = bombs::compressed_change(MIB, [0xc2; 16]);
    valid(
        &mut c,
        s,
        "a compressed change chunk that inflates to 1 MiB",
        &small,
    );
    let empty = automerge::Automerge::new();
    let first = empty
        .generate_sync_message(&mut sync::State::new())
        .expect("a first sync message");
    valid(
        &mut c,
        m,
        "a first sync message (Bloom filter, no changes)",
        &first.encode(),
    );
    valid(
        &mut c,
        m,
        "a sync message carrying a save",
        &bombs::sync_message(std::slice::from_ref(&whole)),
    );
    valid(
        &mut c,
        m,
        "a normal Bloom filter (10 entries, 10 bits, 7 probes)",
        &bombs::sync_message_with_bloom(10, 10, 7, 13),
    );

    invalid(&mut c, s, "no bytes", b"", "empty");
    invalid(
        &mut c,
        s,
        "not the magic bytes",
        b"not an automerge document",
        "magic",
    );
    invalid(
        &mut c,
        s,
        "a save cut one byte short",
        &whole[..whole.len() - 1],
        "truncated",
    );
    let mut flipped = whole.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    invalid(
        &mut c,
        s,
        "a save with one data bit flipped",
        &flipped,
        "checksum",
    );
    let mut kind = whole.clone();
    kind[8] = 9;
    invalid(&mut c, s, "chunk type 9", &kind, "chunk_type");
    invalid(
        &mut c,
        s,
        "a save then one trailing byte",
        &[whole.clone(), vec![0]].concat(),
        "truncated",
    );
    let over = MAX_AUTOMERGE_EXPANDED_BYTES as usize + MIB;
    invalid(
        &mut c,
        s,
        "a compressed change chunk (valid checksum) inflating past MAX_AUTOMERGE_EXPANDED_BYTES",
        &bombs::compressed_change(over, [0xc3; 16]),
        "too_large",
    );
    invalid(
        &mut c,
        s,
        "a document chunk (valid checksum) whose DEFLATE'd column inflates past MAX_AUTOMERGE_EXPANDED_BYTES",
        &bombs::deflated_column_document(over),
        "too_large",
    );
    invalid(
        &mut c,
        s,
        "two compressed change chunks, each within the bound, together past it",
        &[
            bombs::compressed_change(over / 2, [0xc4; 16]),
            bombs::compressed_change(over / 2, [0xc5; 16]),
        ]
        .concat(),
        "too_large",
    );
    invalid(
        &mut c,
        s,
        "a document chunk whose run-length column declares 2^40 operations",
        &bombs::run_length_document(1 << 40),
        "too_many_rows",
    );
    invalid(
        &mut c,
        s,
        "a document chunk declaring MAX_AUTOMERGE_ROWS operations (plus the chunk itself)",
        &bombs::run_length_document(MAX_AUTOMERGE_ROWS),
        "too_many_rows",
    );
    invalid(
        &mut c,
        m,
        "a sync message carrying a compressed change that inflates past the bound",
        &bombs::sync_message(&[bombs::compressed_change(over, [0xc6; 16])]),
        "too_large",
    );
    invalid(
        &mut c,
        m,
        "a Bloom filter with entries but no bits",
        &bombs::sync_message_with_bloom(1, 0, 7, 0),
        "bloom",
    );
    invalid(
        &mut c,
        m,
        "a Bloom filter with 2^32 - 1 probes",
        &bombs::sync_message_with_bloom(1, 10, u32::MAX, 2),
        "bloom",
    );
    invalid(
        &mut c,
        m,
        "a Bloom filter shorter than it declares",
        &bombs::sync_message_with_bloom(100, 10, 7, 3),
        "bloom",
    );
    invalid(
        &mut c,
        m,
        "not a sync message type byte",
        &[0x41, 0, 0, 0, 0],
        "malformed",
    );
    invalid(
        &mut c,
        m,
        "a sync message carrying an empty change",
        &bombs::sync_message(&[Vec::new()]),
        "malformed",
    );
    c
}
