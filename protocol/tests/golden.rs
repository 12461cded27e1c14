//! Golden wire-format tests: one annotated hexdump per message variant, for a
//! frame and for signed registry records (HS-MSG-1, HS-FRAME-1, HS-REG-1).
//!
//! Each test writes the expected encoding field by field; the dump helper
//! asserts the pieces equal the real encoding and insta keeps the text, so a
//! changed byte both fails and shows up as a readable diff.

mod common;
#[path = "golden/dump.rs"]
mod dump;
#[path = "golden/reconcile.rs"]
mod reconcile;
#[path = "golden/records.rs"]
mod records;

use common::{doc, varint};
use dump::Dump;
use humansync_protocol::{
    BlobHash, ChangeHash, CloseCode, DocDigest, DocId, Fingerprint, Message, SetSummary, encode_frame,
};

pub(crate) const FINGERPRINT: [u8; 16] = [0xf1; 16];
pub(crate) const DIGEST: [u8; 16] = [0xd1; 16];
pub(crate) const DIGEST_2: [u8; 16] = [0xd2; 16];

pub(crate) fn encode(msg: &Message) -> Vec<u8> {
    msg.encode().expect("golden messages are within limits")
}

/// Asserts the golden bytes also decode back to the message (HS-FRAME-3: exactly one message).
pub(crate) fn check_roundtrip(msg: &Message, bytes: &[u8]) {
    assert_eq!(&Message::decode(bytes).expect("golden bytes decode"), msg);
}

/// The dump pieces of a document id: varint length then UTF-8 (HS-DOC-1).
pub(crate) fn doc_field(d: Dump, id: &str, what: &str) -> Dump {
    d.field(
        &varint(id.len() as u64),
        format_args!("{what}: length {} (varint)", id.len()),
    )
    .field(id.as_bytes(), format_args!("{what}: {id:?} (UTF-8)"))
}

/// Snapshots `text` as `tests/snapshots/{crate}__{name}.snap`, wherever the test lives.
pub(crate) fn snapshot(name: &str, text: &str) {
    insta::assert_snapshot!(name, text);
}

#[test]
fn varint_matches_known_values() {
    assert_eq!(varint(0), [0x00]);
    assert_eq!(varint(127), [0x7f]);
    assert_eq!(varint(128), [0x80, 0x01]);
    assert_eq!(varint(300), [0xac, 0x02]);
    assert_eq!(varint(u32::MAX as u64), [0xff, 0xff, 0xff, 0xff, 0x0f]);
}

#[test]
fn dump_rejects_a_changed_byte() {
    let result = std::panic::catch_unwind(|| Dump::new("t").field(&[1, 2], "x").finish(&[1, 3]));
    assert!(result.is_err(), "a differing byte must fail the dump");
}

#[test]
fn hello() {
    // HS-MSG-1 index 0, HS-VER-1, HS-RECON-1
    let msg = Message::Hello {
        versions: vec![1, 2, 200],
        set: SetSummary {
            count: 1000,
            fingerprint: Fingerprint(FINGERPRINT),
        },
        devices: DocDigest(DIGEST),
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::Hello { versions: [1, 2, 200], set: { count: 1000, .. }, devices }")
        .field(&[0x00], "variant index 0 = Hello (varint)")
        .field(&[0x03], "versions: length 3 (varint)")
        .field(&[0x01], "versions[0] = 1 (varint u16)")
        .field(&[0x02], "versions[1] = 2 (varint u16)")
        .field(&[0xc8, 0x01], "versions[2] = 200 (varint u16, two bytes)")
        .field(&[0xe8, 0x07], "set.count = 1000 (varint u32)")
        .field(&FINGERPRINT, "set.fingerprint (16 raw bytes, no length)")
        .field(&DIGEST, "devices: _devices digest (16 raw bytes)");
    crate::snapshot("hello", &dump.finish(&bytes));
}

#[test]
fn welcome() {
    // HS-MSG-1 index 1, HS-VER-2, HS-RECON-1
    let msg = Message::Welcome {
        version: 1,
        set: SetSummary {
            count: 0,
            fingerprint: Fingerprint::EMPTY,
        },
        devices: DocDigest(DIGEST),
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::Welcome { version: 1, set: empty, devices }")
        .field(&[0x01], "variant index 1 = Welcome")
        .field(&[0x01], "version = 1 (varint u16)")
        .field(&[0x00], "set.count = 0 (varint u32)")
        .field(&[0x00; 16], "set.fingerprint = Fingerprint::EMPTY")
        .field(&DIGEST, "devices: _devices digest");
    crate::snapshot("welcome", &dump.finish(&bytes));
}

#[test]
fn doc_sync() {
    // HS-MSG-1 index 3, HS-SYNC-3
    let sync_message = vec![0x42, 0x00, 0x01, 0x02, 0x03];
    let msg = Message::DocSync {
        doc: doc("notes/shopping-list"),
        message: sync_message.clone(),
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let d = Dump::new("Message::DocSync { doc: \"notes/shopping-list\", message: 5 bytes }")
        .field(&[0x03], "variant index 3 = DocSync");
    let dump = doc_field(d, "notes/shopping-list", "doc")
        .field(&[0x05], "message: length 5 (varint)")
        .field(&sync_message, "message: Automerge sync message bytes (opaque)");
    crate::snapshot("doc_sync", &dump.finish(&bytes));
}

#[test]
fn doc_whole() {
    // HS-MSG-1 index 4, HS-SYNC-1
    let saved = b"\x85\x6f\x4a\x83saved".to_vec();
    let msg = Message::DocWhole {
        doc: doc("humandocs/doc-1"),
        heads: vec![ChangeHash([0xc1; 32]), ChangeHash([0xc2; 32])],
        blobs: vec![BlobHash([0xb1; 32])],
        bytes: saved.clone(),
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let d = Dump::new("Message::DocWhole { doc, heads: 2, blobs: 1, bytes: 9 }")
        .field(&[0x04], "variant index 4 = DocWhole");
    let dump = doc_field(d, "humandocs/doc-1", "doc")
        .field(&[0x02], "heads: length 2")
        .field(&[0xc1; 32], "heads[0] (32-byte change hash, no length)")
        .field(&[0xc2; 32], "heads[1]")
        .field(&[0x01], "blobs: length 1")
        .field(&[0xb1; 32], "blobs[0] (32-byte BLAKE3 hash, no length)")
        .field(&[0x09], "bytes: length 9")
        .field(&saved, "bytes: saved Automerge document (opaque)");
    crate::snapshot("doc_whole", &dump.finish(&bytes));
}

#[test]
fn doc_want() {
    // HS-MSG-1 index 5, HS-SYNC-2
    let msg = Message::DocWant {
        docs: vec![DocId::devices(), doc("notes/a")],
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let d = Dump::new("Message::DocWant { docs: [\"_devices\", \"notes/a\"] }")
        .field(&[0x05], "variant index 5 = DocWant")
        .field(&[0x02], "docs: length 2");
    let d = doc_field(d, "_devices", "docs[0]");
    let dump = doc_field(d, "notes/a", "docs[1]");
    crate::snapshot("doc_want", &dump.finish(&bytes));
}

#[test]
fn doc_missing() {
    // HS-MSG-1 index 6, HS-SYNC-2
    let msg = Message::DocMissing { doc: doc("notes/a") };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let d =
        Dump::new("Message::DocMissing { doc: \"notes/a\" }").field(&[0x06], "variant index 6 = DocMissing");
    let dump = doc_field(d, "notes/a", "doc");
    crate::snapshot("doc_missing", &dump.finish(&bytes));
}

#[test]
fn doc_deleted() {
    // HS-MSG-1 index 7, HS-DOC-5
    let msg = Message::DocDeleted {
        doc: doc("notes/old~1"),
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let d = Dump::new("Message::DocDeleted { doc: \"notes/old~1\" }")
        .field(&[0x07], "variant index 7 = DocDeleted");
    let dump = doc_field(d, "notes/old~1", "doc");
    crate::snapshot("doc_deleted", &dump.finish(&bytes));
}

#[test]
fn held() {
    // HS-MSG-1 index 15, HS-SYNC-14: one cumulative acknowledgement, 1,000 = varint e8 07; the
    // common case refuses nothing, one byte.
    let msg = Message::Held {
        count: 1000,
        refused: Vec::new(),
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::Held { count: 1000, refused: [] }")
        .field(&[0x0f], "variant index 15 = Held (version 3)")
        .field(&[0xe8, 0x07], "count: varint 1000")
        .field(&[0x00], "refused: 0 numbers");
    crate::snapshot("held", &dump.finish(&bytes));
}

#[test]
fn held_refused() {
    // HS-MSG-1 index 15, HS-SYNC-14, HS-SYNC-13: messages 3 and 200 of the first 1,000 were
    // refused (200 = varint c8 01).
    let msg = Message::Held {
        count: 1000,
        refused: vec![3, 200],
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::Held { count: 1000, refused: [3, 200] }")
        .field(&[0x0f], "variant index 15 = Held (version 3)")
        .field(&[0xe8, 0x07], "count: varint 1000")
        .field(&[0x02], "refused: 2 numbers")
        .field(&[0x03], "  varint 3")
        .field(&[0xc8, 0x01], "  varint 200");
    crate::snapshot("held_refused", &dump.finish(&bytes));
}

#[test]
fn blob_want() {
    // HS-MSG-1 index 8, HS-BLOB-2
    let msg = Message::BlobWant {
        hashes: vec![BlobHash([0xb1; 32]), BlobHash([0xb2; 32])],
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::BlobWant { hashes: 2 }")
        .field(&[0x08], "variant index 8 = BlobWant")
        .field(&[0x02], "hashes: length 2")
        .field(&[0xb1; 32], "hashes[0]")
        .field(&[0xb2; 32], "hashes[1]");
    crate::snapshot("blob_want", &dump.finish(&bytes));
}

#[test]
fn blob_have() {
    // HS-MSG-1 index 9, HS-BLOB-2
    let msg = Message::BlobHave {
        hashes: vec![BlobHash([0xb2; 32])],
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::BlobHave { hashes: 1 }")
        .field(&[0x09], "variant index 9 = BlobHave")
        .field(&[0x01], "hashes: length 1")
        .field(&[0xb2; 32], "hashes[0]");
    crate::snapshot("blob_have", &dump.finish(&bytes));
}

#[test]
fn blob_have_empty() {
    // HS-BLOB-2: an empty list is one length byte.
    let msg = Message::BlobHave { hashes: vec![] };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::BlobHave { hashes: [] }")
        .field(&[0x09], "variant index 9 = BlobHave")
        .field(&[0x00], "hashes: length 0");
    crate::snapshot("blob_have_empty", &dump.finish(&bytes));
}

#[test]
fn close() {
    // HS-MSG-1 index 10, HS-CLOSE-1, HS-CLOSE-2
    let msg = Message::Close {
        code: CloseCode::SHUTDOWN,
        reason: "shutting down".into(),
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::Close { code: SHUTDOWN, reason: \"shutting down\" }")
        .field(&[0x0a], "variant index 10 = Close")
        .field(&[0x0a], "code = 10 SHUTDOWN (varint u32)")
        .field(&[0x0d], "reason: length 13")
        .field(b"shutting down", "reason: UTF-8");
    crate::snapshot("close", &dump.finish(&bytes));
}

#[test]
fn close_large_code() {
    // HS-CLOSE-1: codes are u32 varints; unknown values still encode.
    let msg = Message::Close {
        code: CloseCode(u32::MAX),
        reason: String::new(),
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::Close { code: u32::MAX, reason: \"\" }")
        .field(&[0x0a], "variant index 10 = Close")
        .field(
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            "code = 4294967295 (varint u32, five bytes)",
        )
        .field(&[0x00], "reason: length 0");
    crate::snapshot("close_large_code", &dump.finish(&bytes));
}

#[test]
fn frame() {
    // HS-FRAME-1: 4-byte big-endian length, then one encoded message.
    let msg = Message::Welcome {
        version: 1,
        set: SetSummary {
            count: 2,
            fingerprint: Fingerprint(FINGERPRINT),
        },
        devices: DocDigest(DIGEST_2),
    };
    let framed = encode_frame(&msg).expect("within limits");
    let dump = Dump::new("frame carrying Message::Welcome")
        .field(
            &[0x00, 0x00, 0x00, 0x23],
            "frame length = 35 (u32 big-endian, fixed 4 bytes)",
        )
        .note("payload")
        .enter()
        .field(&[0x01], "variant index 1 = Welcome")
        .field(&[0x01], "version = 1")
        .field(&[0x02], "set.count = 2")
        .field(&FINGERPRINT, "set.fingerprint")
        .field(&DIGEST_2, "devices");
    crate::snapshot("frame", &dump.finish(&framed));
    assert_eq!(
        framed[4..],
        encode(&msg)[..],
        "the payload is exactly Message::encode"
    );
}
