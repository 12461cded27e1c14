//! messages.json, part 1: valid payloads of every message variant (HS-MSG-1, SPEC.md §9).

use humansync_protocol::limits::{MAX_HEADS, MAX_REASON_LEN, MAX_RECON_ITEMS, MAX_RECON_RANGES};
use humansync_protocol::{
    BlobHash, Bound, CloseCode, DocDigest, Fingerprint, Item, Message, RangeEntry, RangeMode, SetSummary,
};

use super::bytes::{enc, hx};
use super::{Cases, doc};
use crate::format::{Case, Expect};
use crate::keys;
use crate::repr;

pub(crate) const DESCRIPTION: &str = "Message payloads (one frame's payload, no length prefix). Valid cases decode \
to exactly one message, given in the JSON form of conformance/README.md; invalid cases MUST be rejected \
and the session closed with CLOSE_MALFORMED (expected.close_code = 4). Acceptable cases are \
encodings SPEC.md leaves open.";

fn valid(cases: &mut Cases, reqs: &[&str], what: &str, msg: Message) {
    let bytes = enc(&msg);
    cases.push(
        Case::new(String::new(), "message", reqs, what, Expect::Valid)
            .with("input", hx(&bytes))
            .expect(repr::message(&msg)),
    );
}

fn summary(count: u32, name: &str) -> SetSummary {
    SetSummary {
        count,
        fingerprint: Fingerprint(keys::bytes16(name)),
    }
}

fn range(upper: Bound, mode: RangeMode) -> RangeEntry {
    RangeEntry { upper, mode }
}

fn key(k: &[u8]) -> Bound {
    Bound::Key(k.to_vec())
}

fn item(id: &str, name: &str) -> Item {
    Item {
        doc: doc(id),
        digest: keys::digest(name),
    }
}

fn blob(name: &str) -> BlobHash {
    BlobHash(keys::bytes32(name))
}

/// Adds the valid message cases.
pub(crate) fn add(c: &mut Cases) {
    let empty = humansync_protocol::digest::heads_digest(&[]);
    let v1 = &["HS-MSG-1", "HS-VER-1", "HS-RECON-1"];
    let hello = |versions: Vec<u16>, set, devices| Message::Hello {
        versions,
        set,
        devices,
    };
    let nothing = SetSummary {
        count: 0,
        fingerprint: Fingerprint::EMPTY,
    };
    valid(c, v1, "Hello v1, empty set", hello(vec![1], nothing, empty));
    valid(
        c,
        v1,
        "Hello listing versions 1, 2 and 200",
        hello(vec![1, 2, 200], summary(1000, "s"), keys::digest("dev")),
    );
    valid(
        c,
        v1,
        "Hello listing MAX_VERSIONS (8) versions",
        hello((1..=8).collect(), summary(3, "t"), empty),
    );
    valid(
        c,
        v1,
        "Hello with the largest u16 version and count",
        hello(vec![u16::MAX], summary(u32::MAX, "u"), empty),
    );

    let w = &["HS-MSG-1", "HS-VER-2", "HS-RECON-1"];
    let welcome = |version, set, devices| Message::Welcome {
        version,
        set,
        devices,
    };
    valid(c, w, "Welcome v1, empty set", welcome(1, nothing, empty));
    valid(
        c,
        w,
        "Welcome v1 with a set summary",
        welcome(1, summary(42, "w"), keys::digest("dev")),
    );

    let r = &["HS-MSG-1", "HS-RECON-2"];
    let recon = |ranges| Message::Reconcile { ranges };
    valid(
        c,
        r,
        "Reconcile: one Skip range to End",
        recon(vec![range(Bound::End, RangeMode::Skip)]),
    );
    let fp = RangeMode::Fingerprint {
        count: 3,
        fingerprint: Fingerprint(keys::bytes16("fp")),
    };
    let two = vec![
        range(key(b"notes/m"), fp.clone()),
        range(
            Bound::End,
            RangeMode::Items(vec![item("notes/p", "p"), item("notes/q", "q")]),
        ),
    ];
    valid(
        c,
        r,
        "Reconcile: a Fingerprint range then an Items range",
        recon(two),
    );
    valid(
        c,
        r,
        "Reconcile: an empty Items range",
        recon(vec![range(Bound::End, RangeMode::Items(vec![]))]),
    );
    let odd = vec![
        range(key(&[0x61, 0xff]), fp.clone()),
        range(Bound::End, RangeMode::Skip),
    ];
    valid(
        c,
        r,
        "Reconcile: a Key bound that is not UTF-8 (bounds need not be ids)",
        recon(odd),
    );
    let tomb = Item {
        doc: doc("notes/gone"),
        digest: DocDigest::TOMBSTONE,
    };
    valid(
        c,
        r,
        "Reconcile: an Items range with a tombstone",
        recon(vec![range(Bound::End, RangeMode::Items(vec![tomb]))]),
    );
    let r5 = &["HS-MSG-1", "HS-RECON-2", "HS-RECON-5"];
    let mut many: Vec<RangeEntry> = (0..MAX_RECON_RANGES - 1)
        .map(|i| range(key(format!("k{i:03}").as_bytes()), RangeMode::Skip))
        .collect();
    many.push(range(Bound::End, RangeMode::Skip));
    valid(
        c,
        r5,
        "Reconcile with exactly MAX_RECON_RANGES (256) ranges",
        recon(many),
    );
    let items = (0..MAX_RECON_ITEMS)
        .map(|i| item(&format!("d{i:04}"), "x"))
        .collect();
    valid(
        c,
        r5,
        "Reconcile with exactly MAX_RECON_ITEMS (1024) items",
        recon(vec![range(Bound::End, RangeMode::Items(items))]),
    );

    let s = &["HS-MSG-1", "HS-SYNC-3"];
    let sync = |id: &str, message: Vec<u8>| Message::DocSync {
        doc: doc(id),
        message,
    };
    valid(
        c,
        s,
        "DocSync with a short message",
        sync("notes/a", vec![0x42, 0x01, 0x02]),
    );
    valid(c, s, "DocSync with an empty message", sync("notes/a", vec![]));
    valid(
        c,
        &["HS-MSG-1", "HS-SYNC-3", "HS-DOC-2"],
        "DocSync for _devices",
        sync("_devices", vec![0x42]),
    );

    let dw = &["HS-MSG-1", "HS-SYNC-1"];
    let whole = |heads: Vec<_>, blobs: Vec<_>, bytes: Vec<u8>| Message::DocWhole {
        doc: doc("humandocs/doc-1"),
        heads,
        blobs,
        bytes,
    };
    let heads = vec![keys::change("h1"), keys::change("h2")];
    valid(
        c,
        dw,
        "DocWhole with two heads, a blob and bytes",
        whole(heads, vec![blob("b1")], vec![0x85, 0x6f, 0x4a, 0x83]),
    );
    valid(
        c,
        dw,
        "DocWhole with no heads, blobs or bytes",
        whole(vec![], vec![], vec![]),
    );
    let all_heads = (0..MAX_HEADS).map(|i| keys::change(&format!("h{i}"))).collect();
    valid(
        c,
        dw,
        "DocWhole with exactly MAX_HEADS (256) heads",
        whole(all_heads, vec![], vec![1]),
    );

    let dwant = &["HS-MSG-1", "HS-SYNC-2"];
    let want = |ids: &[&str]| Message::DocWant {
        docs: ids.iter().map(|s| doc(s)).collect(),
    };
    valid(c, dwant, "DocWant for one document", want(&["notes/a"]));
    valid(
        c,
        dwant,
        "DocWant for three documents, one a system document",
        want(&["notes/a", "notes/b", "_settings"]),
    );
    valid(c, dwant, "DocWant for no document", want(&[]));

    let long = "a".repeat(humansync_protocol::limits::MAX_DOC_ID_LEN);
    valid(
        c,
        &["HS-MSG-1", "HS-SYNC-2"],
        "DocMissing",
        Message::DocMissing { doc: doc("notes/a") },
    );
    valid(
        c,
        &["HS-MSG-1", "HS-SYNC-2", "HS-DOC-1"],
        "DocMissing with a MAX_DOC_ID_LEN (200) byte id",
        Message::DocMissing { doc: doc(&long) },
    );
    valid(
        c,
        &["HS-MSG-1", "HS-DOC-5"],
        "DocDeleted",
        Message::DocDeleted { doc: doc("notes/a") },
    );
    valid(
        c,
        &["HS-MSG-1", "HS-DOC-5"],
        "DocDeleted with a nested id",
        Message::DocDeleted {
            doc: doc("humandocs/2024/doc-6f9a.v2"),
        },
    );

    let b = &["HS-MSG-1", "HS-BLOB-2"];
    valid(
        c,
        b,
        "BlobWant for one blob",
        Message::BlobWant {
            hashes: vec![blob("b1")],
        },
    );
    valid(c, b, "BlobWant for no blob", Message::BlobWant { hashes: vec![] });
    valid(
        c,
        b,
        "BlobHave for two blobs",
        Message::BlobHave {
            hashes: vec![blob("b1"), blob("b2")],
        },
    );
    valid(c, b, "BlobHave for no blob", Message::BlobHave { hashes: vec![] });

    let cl = &["HS-MSG-1", "HS-CLOSE-1", "HS-CLOSE-2"];
    let close = |code, reason: &str| Message::Close {
        code: CloseCode(code),
        reason: reason.to_owned(),
    };
    valid(c, cl, "Close NORMAL with an empty reason", close(0, ""));
    valid(
        c,
        cl,
        "Close MALFORMED with a reason",
        close(4, "malformed frame"),
    );
    valid(
        c,
        cl,
        "Close with an unknown code decodes (treated like PROTOCOL)",
        close(1000, "x"),
    );
    valid(
        c,
        cl,
        "Close with a reason of exactly MAX_REASON_LEN (256) bytes",
        close(3, &"r".repeat(MAX_REASON_LEN)),
    );
    valid(
        c,
        cl,
        "Close with a multi-byte UTF-8 reason",
        close(10, "arrêt — shutting down ✓"),
    );
}

/// Adds the valid cases of the version-2 variants 11..=14 (HS-RESUME-*), after every older case
/// so that existing case ids stay put.
pub(crate) fn add_v2(c: &mut Cases) {
    let cursor = |epoch, seq| humansync_protocol::Cursor { epoch, seq };
    let r2 = &["HS-MSG-1", "HS-RESUME-2"];
    valid(c, r2, "Resume without a cursor", Message::Resume { cursor: None });
    valid(
        c,
        r2,
        "Resume with a cursor (varint epoch and seq)",
        Message::Resume {
            cursor: Some(cursor(0x4853_2d52_4553_554d, 300)),
        },
    );
    let r3 = &["HS-MSG-1", "HS-RESUME-3"];
    valid(c, r3, "Resumed, complete", Message::Resumed { complete: true });
    valid(c, r3, "Resumed, incomplete", Message::Resumed { complete: false });
    valid(
        c,
        &["HS-MSG-1", "HS-RESUME-4"],
        "DocChanges with two bytes of changes",
        Message::DocChanges {
            doc: doc("notes/a"),
            bytes: vec![0x85, 0x6f],
        },
    );
    valid(
        c,
        &["HS-MSG-1", "HS-RESUME-5"],
        "Synced at seq 0 with a 3-document set",
        Message::Synced {
            cursor: cursor(1, 0),
            set: summary(3, "synced"),
        },
    );
    valid(
        c,
        &["HS-MSG-1", "HS-SYNC-14"],
        "Held acknowledging 1,000 documents (version 3)",
        Message::Held {
            count: 1000,
            refused: Vec::new(),
        },
    );
    valid(
        c,
        &["HS-MSG-1", "HS-SYNC-14", "HS-SYNC-13"],
        "Held acknowledging 1,000 documents, messages 3 and 200 refused (version 3)",
        Message::Held {
            count: 1000,
            refused: vec![3, 200],
        },
    );
}
