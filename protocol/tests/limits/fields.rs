//! Per-field bounds inside messages, at the limit and one past it (HS-MSG-2, HS-DOC-3).

use crate::common::varint;
use crate::{CUSTOM, assert_frame_malformed, assert_malformed, seq, text};
use humansync_protocol::limits::*;
use humansync_protocol::{DecodeError, Message};

/// The bytes of a Hello listing versions `1..=n`.
fn hello_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend(seq(n, (1..=n as u64).map(varint)));
    out.push(0x00); // set.count
    out.extend([0u8; 32]); // set.fingerprint, devices
    out
}

#[test]
fn hello_versions_bound() {
    // HS-VER-1, HS-MSG-2
    let ok = Message::decode(&hello_bytes(MAX_VERSIONS)).expect("MAX_VERSIONS versions");
    let Message::Hello { versions, .. } = &ok else {
        panic!("not a Hello: {ok:?}");
    };
    assert_eq!(versions.len(), MAX_VERSIONS);
    assert_malformed(&hello_bytes(MAX_VERSIONS + 1), CUSTOM);
    assert_frame_malformed(&hello_bytes(MAX_VERSIONS + 1));
    // Zero versions and unsorted versions are decoded, then refused by the message rules.
    assert!(matches!(
        Message::decode(&hello_bytes(0)),
        Err(DecodeError::Invalid(_))
    ));
    let mut unsorted = vec![0x00, 0x02, 0x02, 0x01, 0x00];
    unsorted.extend([0u8; 32]);
    assert!(matches!(Message::decode(&unsorted), Err(DecodeError::Invalid(_))));
    let mut duplicate = vec![0x00, 0x02, 0x01, 0x01, 0x00];
    duplicate.extend([0u8; 32]);
    assert!(matches!(
        Message::decode(&duplicate),
        Err(DecodeError::Invalid(_))
    ));
}

fn want_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0x05];
    out.extend(seq(n, (0..n).map(|i| text(format!("d{i}").as_bytes()))));
    out
}

#[test]
fn doc_want_bound() {
    // HS-SYNC-2, HS-MSG-2
    let ok = Message::decode(&want_bytes(MAX_WANT)).expect("MAX_WANT ids");
    assert!(matches!(&ok, Message::DocWant { docs } if docs.len() == MAX_WANT));
    assert_malformed(&want_bytes(MAX_WANT + 1), CUSTOM);
    assert_frame_malformed(&want_bytes(MAX_WANT + 1));
}

fn held_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0x0f];
    out.extend(varint(n as u64)); // count
    out.extend(seq(n, (1..=n as u64).map(varint)));
    out
}

#[test]
fn held_refused_bound() {
    // HS-SYNC-14, HS-MSG-2
    let ok = Message::decode(&held_bytes(MAX_HELD_REFUSED)).expect("MAX_HELD_REFUSED numbers");
    assert!(matches!(&ok, Message::Held { refused, .. } if refused.len() == MAX_HELD_REFUSED));
    assert_malformed(&held_bytes(MAX_HELD_REFUSED + 1), CUSTOM);
    assert_frame_malformed(&held_bytes(MAX_HELD_REFUSED + 1));
}

fn blob_list_bytes(variant: u8, n: usize) -> Vec<u8> {
    let mut out = vec![variant];
    out.extend(seq(n, (0..n).map(|_| vec![0xb1; 32])));
    out
}

#[test]
fn blob_want_and_have_bound() {
    // HS-BLOB-2, HS-MSG-2
    for variant in [8u8, 9] {
        assert!(Message::decode(&blob_list_bytes(variant, MAX_BLOB_WANT)).is_ok());
        assert_malformed(&blob_list_bytes(variant, MAX_BLOB_WANT + 1), CUSTOM);
    }
}

fn close_bytes(reason_len: usize) -> Vec<u8> {
    let mut out = vec![0x0a, 0x00];
    out.extend(text(&vec![b'r'; reason_len]));
    out
}

#[test]
fn close_reason_bound() {
    // HS-CLOSE-2, HS-MSG-2
    let ok = Message::decode(&close_bytes(MAX_REASON_LEN)).expect("at the limit");
    assert!(matches!(&ok, Message::Close { reason, .. } if reason.len() == MAX_REASON_LEN));
    assert_malformed(&close_bytes(MAX_REASON_LEN + 1), CUSTOM);
    assert_frame_malformed(&close_bytes(MAX_REASON_LEN + 1));
}

#[test]
fn close_reason_must_be_utf8() {
    // HS-FRAME-3
    let mut bytes = vec![0x0a, 0x00];
    bytes.extend(text(&[0xff, 0xfe]));
    assert_malformed(&bytes, "utf-8");
}

/// A Reconcile of `n` ranges: `n - 1` Skip ranges under ascending two-byte keys, then (End, Skip).
fn reconcile_ranges_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0x02];
    let ranges = (0..n).map(|i| {
        if i + 1 == n {
            vec![0x01, 0x00]
        } else {
            let mut range = vec![0x00];
            range.extend(text(&(i as u16).to_be_bytes()));
            range.push(0x00);
            range
        }
    });
    out.extend(seq(n, ranges));
    out
}

#[test]
fn reconcile_ranges_bound() {
    // HS-RECON-5, HS-MSG-2
    let ok = Message::decode(&reconcile_ranges_bytes(MAX_RECON_RANGES)).expect("at the limit");
    assert!(matches!(&ok, Message::Reconcile { ranges } if ranges.len() == MAX_RECON_RANGES));
    assert_malformed(&reconcile_ranges_bytes(MAX_RECON_RANGES + 1), CUSTOM);
    assert_frame_malformed(&reconcile_ranges_bytes(MAX_RECON_RANGES + 1));
}

/// One Items range holding `n` items.
fn items_range(n: usize, first: usize) -> Vec<u8> {
    let items = (first..first + n).map(|i| {
        let mut item = text(format!("doc-{i:05}").as_bytes());
        item.extend([0xd1; 16]);
        item
    });
    let mut out = vec![0x02];
    out.extend(seq(n, items));
    out
}

/// A Reconcile whose ranges carry `counts[i]` items each; all but the last end at a key.
fn reconcile_items_bytes(counts: &[usize]) -> Vec<u8> {
    let mut out = vec![0x02];
    let mut first = 0;
    let ranges: Vec<Vec<u8>> = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut range = if i + 1 == counts.len() {
                vec![0x01]
            } else {
                let mut bound = vec![0x00];
                bound.extend(text(format!("k{i}").as_bytes()));
                bound
            };
            range.extend(items_range(n, first));
            first += n;
            range
        })
        .collect();
    out.extend(seq(counts.len(), ranges));
    out
}

#[test]
fn reconcile_items_bound() {
    // HS-RECON-5, HS-MSG-2: one range over the limit is stopped by the field bound,
    // several ranges summing over it by the message rule.
    assert!(Message::decode(&reconcile_items_bytes(&[MAX_RECON_ITEMS])).is_ok());
    assert!(Message::decode(&reconcile_items_bytes(&[MAX_RECON_ITEMS - 24, 24])).is_ok());
    assert_malformed(&reconcile_items_bytes(&[MAX_RECON_ITEMS + 1]), CUSTOM);
    assert_eq!(
        Message::decode(&reconcile_items_bytes(&[MAX_RECON_ITEMS - 24, 25])),
        Err(DecodeError::Invalid(
            "Reconcile carries more than MAX_RECON_ITEMS items"
        ))
    );
    assert_frame_malformed(&reconcile_items_bytes(&[MAX_RECON_ITEMS - 24, 25]));
}

#[test]
fn reconcile_structure_rules() {
    // HS-RECON-2, HS-MSG-4: ranges non-empty, strictly ascending, last upper is End.
    let empty = [0x02, 0x00];
    assert!(matches!(Message::decode(&empty), Err(DecodeError::Invalid(_))));
    let last_not_end = [0x02, 0x01, 0x00, 0x01, b'a', 0x00];
    assert!(matches!(
        Message::decode(&last_not_end),
        Err(DecodeError::Invalid(_))
    ));
    let descending = [
        0x02, 0x03, 0x00, 0x01, b'b', 0x00, 0x00, 0x01, b'a', 0x00, 0x01, 0x00,
    ];
    assert!(matches!(
        Message::decode(&descending),
        Err(DecodeError::Invalid(_))
    ));
    let two_ends = [0x02, 0x02, 0x01, 0x00, 0x01, 0x00];
    assert!(matches!(Message::decode(&two_ends), Err(DecodeError::Invalid(_))));
    let key_over_limit = {
        let mut b = vec![0x02, 0x02, 0x00];
        b.extend(text(&vec![b'k'; MAX_DOC_ID_LEN + 1]));
        b.extend([0x00, 0x01, 0x00]);
        b
    };
    assert_malformed(&key_over_limit, CUSTOM);
    let key_at_limit = {
        let mut b = vec![0x02, 0x02, 0x00];
        b.extend(text(&[0xff; MAX_DOC_ID_LEN]));
        b.extend([0x00, 0x01, 0x00]);
        b
    };
    assert!(
        Message::decode(&key_at_limit).is_ok(),
        "a Key bound may be any bytes"
    );
    let bad_mode = [0x02, 0x01, 0x01, 0x03];
    assert_malformed(&bad_mode, CUSTOM);
    let bad_bound = [0x02, 0x01, 0x02, 0x00];
    assert_malformed(&bad_bound, CUSTOM);
}

fn doc_missing_bytes(id: &[u8]) -> Vec<u8> {
    let mut out = vec![0x06];
    out.extend(text(id));
    out
}

#[test]
fn doc_id_length_bound_inside_a_message() {
    // HS-DOC-1, HS-DOC-3
    let ok = Message::decode(&doc_missing_bytes(&[b'a'; MAX_DOC_ID_LEN])).expect("at the limit");
    assert!(matches!(&ok, Message::DocMissing { doc } if doc.as_str().len() == MAX_DOC_ID_LEN));
    assert_malformed(&doc_missing_bytes(&[b'a'; MAX_DOC_ID_LEN + 1]), CUSTOM);
    assert_frame_malformed(&doc_missing_bytes(&[b'a'; MAX_DOC_ID_LEN + 1]));
    assert_malformed(&doc_missing_bytes(b""), CUSTOM);
}

#[test]
fn invalid_doc_id_inside_a_message() {
    // HS-DOC-3: validated on decode, in every position a DocId appears.
    for bad in [
        &b"../x"[..],
        b"/abs",
        b"a//b",
        b"_other",
        b"a b",
        b".hidden",
        b"_devices/x",
    ] {
        assert_malformed(&doc_missing_bytes(bad), CUSTOM);
        let mut deleted = vec![0x07];
        deleted.extend(text(bad));
        assert_malformed(&deleted, CUSTOM);
        let mut sync = vec![0x03];
        sync.extend(text(bad));
        sync.extend(text(b"m"));
        assert_malformed(&sync, CUSTOM);
        let mut want = vec![0x05, 0x02];
        want.extend(text(b"notes/fine"));
        want.extend(text(bad));
        assert_malformed(&want, CUSTOM);
        let mut items = vec![0x02, 0x01, 0x01, 0x02, 0x01];
        items.extend(text(bad));
        items.extend([0xd1; 16]);
        assert_malformed(&items, CUSTOM);
        assert_frame_malformed(&doc_missing_bytes(bad));
    }
    // Not UTF-8 at all.
    assert_malformed(&doc_missing_bytes(&[0xc3]), "utf-8");
}

#[test]
fn doc_whole_bounds() {
    // HS-SYNC-1, HS-MSG-2
    let whole = |heads: usize, blobs: usize| {
        let mut out = vec![0x04];
        out.extend(text(b"d"));
        out.extend(seq(heads, (0..heads).map(|_| vec![0xc1; 32])));
        out.extend(seq(blobs, (0..blobs).map(|_| vec![0xb1; 32])));
        out.extend(text(b"saved"));
        out
    };
    assert!(Message::decode(&whole(MAX_HEADS, MAX_BLOB_REFS)).is_ok());
    assert_malformed(&whole(MAX_HEADS + 1, 0), CUSTOM);
    assert_malformed(&whole(0, MAX_BLOB_REFS + 1), CUSTOM);
}

#[test]
fn doc_bytes_bound() {
    // HS-SYNC-1, HS-SYNC-3: MAX_DOC_BYTES for DocSync.message and DocWhole.bytes.
    let sync = |n: usize| {
        let mut out = vec![0x03];
        out.extend(text(b"d"));
        out.extend(text(&vec![0u8; n]));
        out
    };
    assert!(Message::decode(&sync(MAX_DOC_BYTES)).is_ok());
    assert_malformed(&sync(MAX_DOC_BYTES + 1), CUSTOM);
    let whole = |n: usize| {
        let mut out = vec![0x04];
        out.extend(text(b"d"));
        out.extend([0x00, 0x00]);
        out.extend(text(&vec![0u8; n]));
        out
    };
    assert!(Message::decode(&whole(MAX_DOC_BYTES)).is_ok());
    assert_malformed(&whole(MAX_DOC_BYTES + 1), CUSTOM);
}
