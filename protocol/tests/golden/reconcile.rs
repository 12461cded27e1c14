//! Golden encodings of Reconcile: every RangeMode and both Bound kinds (HS-MSG-1, HS-RECON-2).

use crate::common::doc;
use crate::dump::Dump;
use crate::{DIGEST, FINGERPRINT, check_roundtrip, doc_field, encode};
use humansync_protocol::{Bound, DocDigest, Fingerprint, Item, Message, RangeEntry, RangeMode};

#[test]
fn reconcile_all_skip() {
    // HS-MSG-1 index 2; HS-RECON-5: one Skip range up to Bound::End ends reconciliation.
    let msg = Message::Reconcile {
        ranges: vec![RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Skip,
        }],
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::Reconcile { ranges: [(End, Skip)] }")
        .field(&[0x02], "variant index 2 = Reconcile")
        .field(&[0x01], "ranges: length 1")
        .field(&[0x01], "ranges[0].upper = Bound::End (variant 1)")
        .field(&[0x00], "ranges[0].mode = RangeMode::Skip (variant 0)");
    crate::snapshot("reconcile_all_skip", &dump.finish(&bytes));
}

#[test]
fn reconcile_fingerprints() {
    // HS-RECON-2, HS-RECON-3: a Key bound and a Fingerprint range, then End.
    let msg = Message::Reconcile {
        ranges: vec![
            RangeEntry {
                upper: Bound::Key(b"m".to_vec()),
                mode: RangeMode::Fingerprint {
                    count: 300,
                    fingerprint: Fingerprint(FINGERPRINT),
                },
            },
            RangeEntry {
                upper: Bound::End,
                mode: RangeMode::Fingerprint {
                    count: 5,
                    fingerprint: Fingerprint([0xf2; 16]),
                },
            },
        ],
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let dump = Dump::new("Message::Reconcile { ranges: [(Key(\"m\"), Fingerprint), (End, Fingerprint)] }")
        .field(&[0x02], "variant index 2 = Reconcile")
        .field(&[0x02], "ranges: length 2")
        .note("ranges[0]")
        .enter()
        .field(&[0x00], "upper = Bound::Key (variant 0)")
        .field(&[0x01], "key: length 1 (varint)")
        .field(b"m", "key: \"m\" (raw bytes, need not be a DocId)")
        .field(&[0x01], "mode = RangeMode::Fingerprint (variant 1)")
        .field(&[0xac, 0x02], "count = 300 (varint u32)")
        .field(&FINGERPRINT, "fingerprint (16 raw bytes)")
        .leave()
        .note("ranges[1]")
        .enter()
        .field(&[0x01], "upper = Bound::End (variant 1)")
        .field(&[0x01], "mode = RangeMode::Fingerprint (variant 1)")
        .field(&[0x05], "count = 5")
        .field(&[0xf2; 16], "fingerprint");
    crate::snapshot("reconcile_fingerprints", &dump.finish(&bytes));
}

#[test]
fn reconcile_items() {
    // HS-RECON-2, HS-RECON-4: Items with a live and a tombstoned document, then Skip.
    let msg = Message::Reconcile {
        ranges: vec![
            RangeEntry {
                upper: Bound::Key(b"notes/c".to_vec()),
                mode: RangeMode::Items(vec![
                    Item {
                        doc: doc("notes/a"),
                        digest: DocDigest(DIGEST),
                    },
                    Item {
                        doc: doc("notes/b"),
                        digest: DocDigest::TOMBSTONE,
                    },
                ]),
            },
            RangeEntry {
                upper: Bound::End,
                mode: RangeMode::Skip,
            },
        ],
    };
    let bytes = encode(&msg);
    check_roundtrip(&msg, &bytes);
    let d = Dump::new("Message::Reconcile { ranges: [(Key(\"notes/c\"), Items[2]), (End, Skip)] }")
        .field(&[0x02], "variant index 2 = Reconcile")
        .field(&[0x02], "ranges: length 2")
        .note("ranges[0]")
        .enter()
        .field(&[0x00], "upper = Bound::Key (variant 0)")
        .field(&[0x07], "key: length 7")
        .field(b"notes/c", "key: \"notes/c\"")
        .field(&[0x02], "mode = RangeMode::Items (variant 2)")
        .field(&[0x02], "items: length 2");
    let d = doc_field(d, "notes/a", "items[0].doc").field(&DIGEST, "items[0].digest");
    let d = doc_field(d, "notes/b", "items[1].doc").field(&[0xff; 16], "items[1].digest = TOMBSTONE");
    let dump = d
        .leave()
        .note("ranges[1]")
        .enter()
        .field(&[0x01], "upper = Bound::End")
        .field(&[0x00], "mode = RangeMode::Skip");
    crate::snapshot("reconcile_items", &dump.finish(&bytes));
}
