//! messages.json, part 3: every bounded field over its limit (HS-MSG-2).
//!
//! Where the over-limit value is small it is given whole; otherwise the input
//! ends right after the announced length or count, and a decoder MUST reject
//! it without allocating for the announced size (it is invalid either way).
//! Each whole-value builder takes the size, and a test checks that the same
//! builder at the limit decodes, so the cases fail for the limit alone.

use humansync_protocol::limits::*;

use super::Cases;
use super::bytes::{cat, lp, varint};
use super::messages_invalid::{invalid, missing_raw};
use crate::keys;

fn items(n: usize, prefix: &str) -> Vec<u8> {
    let mut out = varint(n as u64);
    for i in 0..n {
        out.extend_from_slice(&lp(format!("{prefix}{i:04}").as_bytes()));
        out.extend_from_slice(&keys::digest("x").0);
    }
    out
}

fn items_range(upper: &[u8], n: usize, prefix: &str) -> Vec<u8> {
    cat(&[upper, &[0x02], &items(n, prefix)])
}

fn hello_versions(n: usize) -> Vec<u8> {
    let mut out = cat(&[&[0x00], &varint(n as u64)]);
    out.extend((1..=n as u8).collect::<Vec<u8>>());
    out.extend_from_slice(&[0u8; 33]);
    out
}

fn close_reason(n: usize) -> Vec<u8> {
    cat(&[&[0x0a, 0x03], &lp("r".repeat(n).as_bytes())])
}

fn key_bound(n: usize) -> Vec<u8> {
    cat(&[
        &[0x02, 0x02, 0x00],
        &lp("k".repeat(n).as_bytes()),
        &[0x00, 0x01, 0x00],
    ])
}

fn skip_ranges(n: usize) -> Vec<u8> {
    let mut out = cat(&[&[0x02], &varint(n as u64)]);
    for i in 0..n - 1 {
        out.extend(cat(&[&[0x00], &lp(format!("k{i:03}").as_bytes()), &[0x00]]));
    }
    out.extend_from_slice(&[0x01, 0x00]);
    out
}

fn one_items_range(n: usize) -> Vec<u8> {
    cat(&[&[0x02, 0x01], &items_range(&[0x01], n, "d")])
}

fn two_items_ranges(first: usize, second: usize) -> Vec<u8> {
    cat(&[
        &[0x02, 0x02],
        &items_range(&cat(&[&[0x00], &lp(b"e")]), first, "d"),
        &items_range(&[0x01], second, "e"),
    ])
}

fn whole_head(n: u64) -> Vec<u8> {
    cat(&[&[0x04], &lp(b"notes/a"), &varint(n)])
}

fn whole_heads(n: usize) -> Vec<u8> {
    let mut out = whole_head(n as u64);
    for i in 0..n {
        out.extend_from_slice(&keys::bytes32(&format!("h{i}")));
    }
    out.extend_from_slice(&[0x00, 0x00]);
    out
}

fn want(n: usize) -> Vec<u8> {
    let mut out = cat(&[&[0x05], &varint(n as u64)]);
    for i in 0..n {
        out.extend(lp(format!("d{i}").as_bytes()));
    }
    out
}

/// A Held with count `n` refusing messages `1..=n` (HS-SYNC-14).
fn held_refused(n: usize) -> Vec<u8> {
    let mut out = cat(&[&[0x0f], &varint(n as u64), &varint(n as u64)]);
    for i in 1..=n {
        out.extend(varint(i as u64));
    }
    out
}

/// Adds the over-limit cases.
pub(crate) fn add(c: &mut Cases) {
    let lim = |req: &'static str| -> Vec<&'static str> { vec!["HS-MSG-2", req] };
    let over = "over_limit";
    let whole = |what: &str| format!("{what} (the same shape at the limit decodes)");
    invalid(
        c,
        &lim("HS-VER-1"),
        &whole("Hello with MAX_VERSIONS + 1 (9) versions"),
        &hello_versions(MAX_VERSIONS + 1),
        over,
    );
    invalid(
        c,
        &lim("HS-VER-1"),
        "Hello announcing 1000000 versions (input ends there)",
        &cat(&[&[0x00], &varint(1_000_000)]),
        over,
    );
    invalid(
        c,
        &lim("HS-CLOSE-2"),
        &whole("Close with a reason of MAX_REASON_LEN + 1 (257) bytes"),
        &close_reason(MAX_REASON_LEN + 1),
        over,
    );
    invalid(
        c,
        &lim("HS-CLOSE-2"),
        "Close announcing a 4 GiB reason (input ends there)",
        &cat(&[&[0x0a, 0x03], &varint(u32::MAX as u64)]),
        over,
    );
    let long = "a".repeat(MAX_DOC_ID_LEN + 1);
    invalid(
        c,
        &lim("HS-DOC-1"),
        &whole("DocMissing with a MAX_DOC_ID_LEN + 1 (201) byte id"),
        &missing_raw(long.as_bytes()),
        over,
    );
    invalid(
        c,
        &lim("HS-RECON-2"),
        &whole("Reconcile with a Key bound of MAX_DOC_ID_LEN + 1 (201) bytes"),
        &key_bound(MAX_DOC_ID_LEN + 1),
        over,
    );
    invalid(
        c,
        &lim("HS-RECON-5"),
        &whole("Reconcile with MAX_RECON_RANGES + 1 (257) ranges"),
        &skip_ranges(MAX_RECON_RANGES + 1),
        over,
    );
    invalid(
        c,
        &lim("HS-RECON-5"),
        "Reconcile announcing 100000 ranges (input ends there)",
        &cat(&[&[0x02], &varint(100_000)]),
        over,
    );
    invalid(
        c,
        &lim("HS-RECON-5"),
        &whole("Reconcile with MAX_RECON_ITEMS + 1 (1025) items in one range"),
        &one_items_range(MAX_RECON_ITEMS + 1),
        over,
    );
    let half = MAX_RECON_ITEMS / 2;
    invalid(
        c,
        &lim("HS-RECON-5"),
        &whole("Reconcile with 513 + 512 items: over MAX_RECON_ITEMS in total"),
        &two_items_ranges(half + 1, half),
        over,
    );
    let announced = cat(&[&[0x02, 0x01, 0x01, 0x02], &varint(1_000_000)]);
    invalid(
        c,
        &lim("HS-RECON-5"),
        "Reconcile Items announcing 1000000 items (input ends there)",
        &announced,
        over,
    );
    invalid(
        c,
        &lim("HS-SYNC-1"),
        &whole("DocWhole with MAX_HEADS + 1 (257) heads"),
        &whole_heads(MAX_HEADS + 1),
        over,
    );
    invalid(
        c,
        &lim("HS-SYNC-1"),
        "DocWhole announcing 1000000 heads (input ends there)",
        &whole_head(1_000_000),
        over,
    );
    let blobs = cat(&[&whole_head(0), &varint(MAX_BLOB_REFS as u64 + 1)]);
    invalid(
        c,
        &lim("HS-SYNC-1"),
        "DocWhole announcing MAX_BLOB_REFS + 1 (4097) blobs (input ends there)",
        &blobs,
        over,
    );
    let bytes = cat(&[
        &whole_head(0),
        &[0x00],
        &varint(MAX_DOC_BYTES as u64 + 1),
        &[0u8; 16],
    ]);
    invalid(
        c,
        &lim("HS-SYNC-1"),
        "DocWhole announcing MAX_DOC_BYTES + 1 bytes (input ends early)",
        &bytes,
        over,
    );
    let sync = cat(&[
        &[0x03],
        &lp(b"notes/a"),
        &varint(MAX_DOC_BYTES as u64 + 1),
        &[0u8; 16],
    ]);
    invalid(
        c,
        &lim("HS-SYNC-3"),
        "DocSync announcing MAX_DOC_BYTES + 1 bytes (input ends early)",
        &sync,
        over,
    );
    invalid(
        c,
        &lim("HS-SYNC-2"),
        &whole("DocWant with MAX_WANT + 1 (1025) ids"),
        &want(MAX_WANT + 1),
        over,
    );
    let blob_list = |variant: u8| cat(&[&[variant], &varint(MAX_BLOB_WANT as u64 + 1), &keys::bytes32("b")]);
    invalid(
        c,
        &lim("HS-BLOB-2"),
        "BlobWant announcing MAX_BLOB_WANT + 1 (1025) hashes (input ends early)",
        &blob_list(0x08),
        over,
    );
    invalid(
        c,
        &lim("HS-BLOB-2"),
        "BlobHave announcing MAX_BLOB_WANT + 1 (1025) hashes (input ends early)",
        &blob_list(0x09),
        over,
    );
}

/// Version 3's bounds, after the version-2 messages so that earlier case ids stay put.
pub(crate) fn add_v3(c: &mut Cases) {
    invalid(
        c,
        &["HS-MSG-2", "HS-SYNC-14"],
        "Held refusing MAX_HELD_REFUSED + 1 (1025) messages (the same shape at the limit decodes)",
        &held_refused(MAX_HELD_REFUSED + 1),
        "over_limit",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync_protocol::Message;

    #[test]
    fn builders_decode_at_the_limit_and_fail_one_over() {
        // HS-MSG-2: each over-limit case differs from a decodable payload by the limit alone.
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (hello_versions(MAX_VERSIONS), hello_versions(MAX_VERSIONS + 1)),
            (close_reason(MAX_REASON_LEN), close_reason(MAX_REASON_LEN + 1)),
            (
                missing_raw("a".repeat(MAX_DOC_ID_LEN).as_bytes()),
                missing_raw("a".repeat(MAX_DOC_ID_LEN + 1).as_bytes()),
            ),
            (key_bound(MAX_DOC_ID_LEN), key_bound(MAX_DOC_ID_LEN + 1)),
            (skip_ranges(MAX_RECON_RANGES), skip_ranges(MAX_RECON_RANGES + 1)),
            (
                one_items_range(MAX_RECON_ITEMS),
                one_items_range(MAX_RECON_ITEMS + 1),
            ),
            (two_items_ranges(512, 512), two_items_ranges(513, 512)),
            (whole_heads(MAX_HEADS), whole_heads(MAX_HEADS + 1)),
            (want(MAX_WANT), want(MAX_WANT + 1)),
            (held_refused(MAX_HELD_REFUSED), held_refused(MAX_HELD_REFUSED + 1)),
        ];
        for (i, (at, over)) in pairs.iter().enumerate() {
            assert!(
                Message::decode(at).is_ok(),
                "builder {i} at the limit: {:?}",
                Message::decode(at)
            );
            assert!(
                Message::decode(over).is_err(),
                "builder {i} over the limit decodes"
            );
        }
    }
}
