//! The encoding side: a sender never emits what a conforming receiver rejects (HS-MSG-2).

use crate::assert_encode_limit;
use crate::common::doc;
use humansync_protocol::limits::*;
use humansync_protocol::{
    BlobHash, Bound, ChangeHash, CloseCode, DocDigest, DocId, EncodeError, FRAME_HEADER_LEN, FrameDecoder,
    Item, Message, RangeEntry, RangeMode, SetSummary, encode_frame,
};

#[test]
fn encode_refuses_over_limit_messages() {
    // HS-MSG-2: a sender never emits what a conforming receiver rejects.
    let set = SetSummary {
        count: 0,
        fingerprint: humansync_protocol::Fingerprint::EMPTY,
    };
    let hello = |versions: Vec<u16>| Message::Hello {
        versions,
        set,
        devices: DocDigest::default(),
    };
    assert_encode_limit(&hello(vec![]));
    assert_encode_limit(&hello((1..=MAX_VERSIONS as u16 + 1).collect()));
    assert_encode_limit(&hello(vec![2, 1]));
    assert_encode_limit(&hello(vec![1, 1]));
    assert!(hello((1..=MAX_VERSIONS as u16).collect()).encode().is_ok());

    let end_skip = RangeEntry {
        upper: Bound::End,
        mode: RangeMode::Skip,
    };
    let key = |i: usize| Bound::Key((i as u32).to_be_bytes().to_vec());
    let skips = |n: usize| -> Vec<RangeEntry> {
        let mut ranges: Vec<RangeEntry> = (0..n - 1)
            .map(|i| RangeEntry {
                upper: key(i),
                mode: RangeMode::Skip,
            })
            .collect();
        ranges.push(end_skip.clone());
        ranges
    };
    assert_encode_limit(&Message::Reconcile { ranges: vec![] });
    assert_encode_limit(&Message::Reconcile {
        ranges: skips(MAX_RECON_RANGES + 1),
    });
    assert!(
        Message::Reconcile {
            ranges: skips(MAX_RECON_RANGES)
        }
        .encode()
        .is_ok()
    );
    assert_encode_limit(&Message::Reconcile {
        ranges: vec![RangeEntry {
            upper: key(1),
            mode: RangeMode::Skip,
        }],
    });
    assert_encode_limit(&Message::Reconcile {
        ranges: vec![end_skip.clone(), end_skip.clone()],
    });
    let items = |n: usize| -> Vec<Item> {
        (0..n)
            .map(|i| Item {
                doc: doc(&format!("d{i}")),
                digest: DocDigest::default(),
            })
            .collect()
    };
    let split = |a: usize, b: usize| Message::Reconcile {
        ranges: vec![
            RangeEntry {
                upper: key(0),
                mode: RangeMode::Items(items(a)),
            },
            RangeEntry {
                upper: Bound::End,
                mode: RangeMode::Items(items(b)),
            },
        ],
    };
    assert!(split(MAX_RECON_ITEMS - 1, 1).encode().is_ok());
    assert_encode_limit(&split(MAX_RECON_ITEMS, 1));

    let d = doc("d");
    assert_encode_limit(&Message::DocSync {
        doc: d.clone(),
        message: vec![0; MAX_DOC_BYTES + 1],
    });
    let whole = |heads: usize, blobs: usize, bytes: usize| Message::DocWhole {
        doc: d.clone(),
        heads: vec![ChangeHash([1; 32]); heads],
        blobs: vec![BlobHash([2; 32]); blobs],
        bytes: vec![0; bytes],
    };
    assert_encode_limit(&whole(MAX_HEADS + 1, 0, 0));
    assert_encode_limit(&whole(0, MAX_BLOB_REFS + 1, 0));
    assert_encode_limit(&whole(0, 0, MAX_DOC_BYTES + 1));
    assert!(whole(MAX_HEADS, MAX_BLOB_REFS, 0).encode().is_ok());
    let ids = |n: usize| (0..n).map(|i| doc(&format!("d{i}"))).collect::<Vec<DocId>>();
    assert_encode_limit(&Message::DocWant {
        docs: ids(MAX_WANT + 1),
    });
    assert!(Message::DocWant { docs: ids(MAX_WANT) }.encode().is_ok());
    let hashes = vec![BlobHash([3; 32]); MAX_BLOB_WANT + 1];
    assert_encode_limit(&Message::BlobWant {
        hashes: hashes.clone(),
    });
    assert_encode_limit(&Message::BlobHave { hashes });
    assert_encode_limit(&Message::Close {
        code: CloseCode::NORMAL,
        reason: "r".repeat(MAX_REASON_LEN + 1),
    });
    let refused = |n: u64| Message::Held {
        count: n,
        refused: (1..=n).collect(),
    };
    assert_encode_limit(&refused(MAX_HELD_REFUSED as u64 + 1));
    assert!(refused(MAX_HELD_REFUSED as u64).encode().is_ok());
}

#[test]
// HS-FRAME-4: a sender never produces a message that does not fit one frame.
fn encode_refuses_a_message_that_does_not_fit_one_frame() {
    // HS-FRAME-2, HS-MSG-2: every field at its own limit can still add up to more
    // than MAX_FRAME_LEN (MAX_DOC_BYTES leaves 64 KiB, MAX_BLOB_REFS hashes take 128 KiB).
    let msg = Message::DocWhole {
        doc: doc("d"),
        heads: vec![ChangeHash([1; 32]); MAX_HEADS],
        blobs: vec![BlobHash([2; 32]); MAX_BLOB_REFS],
        bytes: vec![0; MAX_DOC_BYTES],
    };
    assert_encode_limit(&msg);
    assert!(matches!(encode_frame(&msg), Err(EncodeError::Limit(_))));
}

#[test]
fn largest_doc_sync_fits_one_frame() {
    // HS-SYNC-3, HS-FRAME-2: MAX_DOC_BYTES plus the longest id still frames.
    let msg = Message::DocSync {
        doc: DocId::new("a".repeat(MAX_DOC_ID_LEN)).expect("at the limit"),
        message: vec![0x5a; MAX_DOC_BYTES],
    };
    let framed = encode_frame(&msg).expect("fits");
    assert!(framed.len() <= FRAME_HEADER_LEN + MAX_FRAME_LEN as usize);
    let mut decoder = FrameDecoder::new();
    decoder.push(&framed);
    assert_eq!(decoder.next_message(), Ok(Some(msg)));
    assert_eq!(decoder.buffered(), 0);
}
