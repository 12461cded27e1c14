//! messages.json, part 2: undecodable payloads and broken message rules
//! (HS-FRAME-3, HS-MSG-1, HS-VER-1, HS-RECON-2, HS-DOC-1..3).

use humansync_protocol::{CloseCode, DocId, Message};
use serde_json::json;

use super::bytes::{cat, enc, hx, lp, varint};
use super::{Cases, doc};
use crate::format::{Case, Expect};

/// Adds an invalid payload: decoders MUST reject it; the session closes with CLOSE_MALFORMED.
pub(crate) fn invalid(c: &mut Cases, reqs: &[&str], what: &str, bytes: &[u8], reason: &str) {
    c.push(
        Case::new(String::new(), "message", reqs, what, Expect::Invalid)
            .with("input", hx(bytes))
            .because(reason)
            .expect(json!({"close_code": CloseCode::MALFORMED.0})),
    );
}

fn acceptable(c: &mut Cases, reqs: &[&str], what: &str, bytes: &[u8], reason: &str) {
    c.push(
        Case::new(String::new(), "message", reqs, what, Expect::Acceptable)
            .with("input", hx(bytes))
            .because(reason),
    );
}

/// A Hello payload with raw version varints.
fn hello_raw(versions: &[&[u8]]) -> Vec<u8> {
    let mut out = cat(&[&[0x00], &varint(versions.len() as u64)]);
    for v in versions {
        out.extend_from_slice(v);
    }
    out.push(0x00); // set.count = 0
    out.extend_from_slice(&[0u8; 16]); // set.fingerprint
    out.extend_from_slice(&[0u8; 16]); // devices
    out
}

/// A DocMissing payload carrying `id` bytes as its document id.
pub(crate) fn missing_raw(id: &[u8]) -> Vec<u8> {
    cat(&[&[0x06], &lp(id)])
}

/// Reconcile payload from raw range encodings.
fn reconcile_raw(ranges: &[Vec<u8>]) -> Vec<u8> {
    let mut out = cat(&[&[0x02], &varint(ranges.len() as u64)]);
    for r in ranges {
        out.extend_from_slice(r);
    }
    out
}

const END: &[u8] = &[0x01];
const SKIP: &[u8] = &[0x00];

fn key(k: &[u8]) -> Vec<u8> {
    cat(&[&[0x00], &lp(k)])
}

fn skip_to(bound: &[u8]) -> Vec<u8> {
    cat(&[bound, SKIP])
}

/// One invalid payload: requirement ids, description, bytes, reason.
type Bad = (&'static [&'static str], String, Vec<u8>, &'static str);

const M1: &[&str] = &["HS-MSG-1", "HS-FRAME-3"];
const F3: &[&str] = &["HS-FRAME-3"];
const V1: &[&str] = &["HS-VER-1", "HS-FRAME-3"];
const R2: &[&str] = &["HS-RECON-2", "HS-FRAME-3"];
const D1: &[&str] = &["HS-DOC-1", "HS-DOC-3", "HS-FRAME-3"];
const D2: &[&str] = &["HS-DOC-2", "HS-DOC-3", "HS-FRAME-3"];

fn bad(reqs: &'static [&'static str], what: &str, bytes: Vec<u8>, reason: &'static str) -> Bad {
    (reqs, what.to_owned(), bytes, reason)
}

/// Unknown variants, truncation, trailing bytes and bad varints (HS-MSG-1, HS-FRAME-3).
fn structure() -> Vec<Bad> {
    let missing = enc(&Message::DocMissing { doc: doc("notes/a") });
    let hello = enc(&Message::Hello {
        versions: vec![1],
        set: humansync_protocol::SetSummary {
            count: 7,
            fingerprint: humansync_protocol::Fingerprint([0x11; 16]),
        },
        devices: humansync_protocol::DocDigest([0x22; 16]),
    });
    let close = enc(&Message::Close {
        code: CloseCode::NORMAL,
        reason: String::new(),
    });
    let (uv, tr, tb, bv) = ("unknown_variant", "truncated", "trailing_bytes", "bad_varint");
    vec![
        bad(
            M1,
            "unknown variant 16 (the first unassigned index; 11..=14 are version 2's, 15 version 3's)",
            vec![16],
            uv,
        ),
        bad(
            M1,
            "unknown variant 16 with a plausible body",
            cat(&[&[16], &lp(b"notes/a")]),
            uv,
        ),
        bad(M1, "variant 127, the largest one-byte varint", vec![0x7f], uv),
        bad(
            M1,
            "variant 200, reserved for private experiments",
            cat(&[&varint(200), &lp(b"x")]),
            uv,
        ),
        bad(M1, "variant 255 (reserved range end)", varint(255), uv),
        bad(F3, "empty payload", vec![], tr),
        bad(F3, "Hello cut after the variant index", hello[..1].to_vec(), tr),
        bad(F3, "Hello cut inside the versions list", hello[..2].to_vec(), tr),
        bad(
            F3,
            "Hello cut inside the set fingerprint",
            hello[..10].to_vec(),
            tr,
        ),
        bad(
            F3,
            "Hello missing the last byte of devices",
            hello[..hello.len() - 1].to_vec(),
            tr,
        ),
        bad(
            F3,
            "DocMissing cut inside the id",
            missing[..missing.len() - 2].to_vec(),
            tr,
        ),
        bad(
            F3,
            "DocMissing followed by one zero byte",
            cat(&[&missing, &[0]]),
            tb,
        ),
        bad(F3, "Hello followed by a second Hello", cat(&[&hello, &hello]), tb),
        bad(F3, "Close followed by garbage", cat(&[&close, b"xyz"]), tb),
        bad(
            F3,
            "variant index varint of 6 bytes (over 5, the maximum for u32)",
            vec![0x86, 0x80, 0x80, 0x80, 0x80, 0x00],
            bv,
        ),
        bad(
            F3,
            "variant index varint over u32::MAX",
            vec![0xff, 0xff, 0xff, 0xff, 0x1f],
            bv,
        ),
        bad(
            F3,
            "variant index varint that never terminates",
            vec![0x80; 5],
            bv,
        ),
        bad(
            F3,
            "Hello version varint over u16::MAX (65536)",
            hello_raw(&[&[0x80, 0x80, 0x04]]),
            bv,
        ),
        bad(
            F3,
            "Hello version varint of 4 bytes (over 3, the maximum for u16)",
            hello_raw(&[&[0x81, 0x80, 0x80, 0x00]]),
            bv,
        ),
        bad(
            F3,
            "string length varint of 11 bytes",
            cat(&[&[0x06], &[0xff; 10], &[0x01]]),
            bv,
        ),
    ]
}

/// Hello and Reconcile rules beyond decoding (HS-VER-1, HS-RECON-2).
fn rules() -> Vec<Bad> {
    let na = "not_ascending";
    let items_bad = cat(&[END, &[0x02, 0x01], &lp(b"a b"), &[0u8; 16]]);
    vec![
        bad(V1, "Hello with no version", hello_raw(&[]), "no_versions"),
        bad(
            V1,
            "Hello versions not ascending [2, 1]",
            hello_raw(&[&[2], &[1]]),
            "versions_not_ascending",
        ),
        bad(
            V1,
            "Hello versions duplicated [1, 1]",
            hello_raw(&[&[1], &[1]]),
            "versions_not_ascending",
        ),
        bad(R2, "Reconcile with no range", reconcile_raw(&[]), "no_ranges"),
        bad(
            R2,
            "Reconcile whose only range ends at a Key, not End",
            reconcile_raw(&[skip_to(&key(b"m"))]),
            "last_not_end",
        ),
        bad(
            R2,
            "Reconcile with End before the last range",
            reconcile_raw(&[skip_to(END), skip_to(&key(b"m"))]),
            "last_not_end",
        ),
        bad(
            R2,
            "Reconcile with two End ranges",
            reconcile_raw(&[skip_to(END), skip_to(END)]),
            na,
        ),
        bad(
            R2,
            "Reconcile bounds not ascending (m, c, End)",
            reconcile_raw(&[skip_to(&key(b"m")), skip_to(&key(b"c")), skip_to(END)]),
            na,
        ),
        bad(
            R2,
            "Reconcile bounds repeated (m, m, End)",
            reconcile_raw(&[skip_to(&key(b"m")), skip_to(&key(b"m")), skip_to(END)]),
            na,
        ),
        bad(
            R2,
            "Reconcile with Bound variant 2",
            reconcile_raw(&[skip_to(&[0x02])]),
            "unknown_variant",
        ),
        bad(
            R2,
            "Reconcile with RangeMode variant 3",
            reconcile_raw(&[cat(&[END, &[0x03]])]),
            "unknown_variant",
        ),
        bad(
            &["HS-DOC-3", "HS-RECON-2"],
            "Reconcile Items with an invalid id",
            reconcile_raw(&[items_bad]),
            "invalid_doc_id",
        ),
    ]
}

/// Invalid document ids and text (HS-DOC-1..3).
fn ids() -> Vec<Bad> {
    let long = "a".repeat(humansync_protocol::limits::MAX_DOC_ID_LEN + 1);
    let mut out: Vec<Bad> = [
        ("", "empty"),
        (long.as_str(), "over MAX_DOC_ID_LEN (201 bytes)"),
        ("/notes", "leading '/'"),
        ("notes/", "trailing '/'"),
        ("notes//a", "'//'"),
        (".", "segment '.'"),
        ("notes/..", "segment '..'"),
        (".hidden", "segment starting with '.'"),
        ("notes/a b", "a space"),
        ("notes/\u{e9}", "a non-ASCII character"),
    ]
    .into_iter()
    .map(|(text, why)| {
        debug_assert!(DocId::new(text).is_err());
        let what = format!("DocMissing with an invalid id: {why}");
        (D1, what, missing_raw(text.as_bytes()), "invalid_doc_id")
    })
    .collect();
    let iv = "invalid_doc_id";
    out.extend([
        bad(
            D2,
            "DocDeleted with a reserved id _other",
            cat(&[&[0x07], &lp(b"_other")]),
            iv,
        ),
        bad(
            D2,
            "DocWant with a reserved id _devices/x",
            cat(&[&[0x05, 0x01], &lp(b"_devices/x")]),
            iv,
        ),
        bad(
            D1,
            "DocSync with a NUL byte in the id",
            cat(&[&[0x03], &lp(b"notes/\x00"), &lp(&[1])]),
            iv,
        ),
        bad(
            D1,
            "DocMissing with an id that is not UTF-8",
            missing_raw(&[0x6e, 0xff, 0x6f]),
            "invalid_utf8",
        ),
        bad(
            &["HS-CLOSE-2", "HS-FRAME-3"],
            "Close with a reason that is not UTF-8",
            cat(&[&[0x0a, 0x03], &lp(&[0xc3, 0x28])]),
            "invalid_utf8",
        ),
    ]);
    out
}

/// Adds the invalid and acceptable message cases.
pub(crate) fn add(c: &mut Cases) {
    for (reqs, what, bytes, reason) in structure().into_iter().chain(rules()).chain(ids()) {
        invalid(c, reqs, &what, &bytes, reason);
    }
    let nc = "non_canonical_varint: postcard accepts excess continuation bytes within the maximum length";
    let six = cat(&[&[0x86, 0x00], &lp(b"notes/a")]);
    acceptable(c, F3, "variant index 6 encoded in 2 bytes (0x86 0x00)", &six, nc);
    let seven = cat(&[&[0x06, 0x87, 0x00], b"notes/a"]);
    acceptable(c, F3, "id length 7 encoded in 2 bytes (0x87 0x00)", &seven, nc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_payloads_decode_once_the_fault_is_fixed() {
        // HS-FRAME-3: each invalid case is a decodable payload with one fault, so it fails for that fault.
        let twins: Vec<Vec<u8>> = vec![
            hello_raw(&[&[1]]),
            hello_raw(&[&[1], &[2]]),
            reconcile_raw(&[skip_to(END)]),
            reconcile_raw(&[skip_to(&key(b"c")), skip_to(&key(b"m")), skip_to(END)]),
            reconcile_raw(&[cat(&[END, &[0x02, 0x01], &lp(b"a-b"), &[0u8; 16]])]),
            reconcile_raw(&[cat(&[END, &[0x01, 0x00], &[0u8; 16]])]),
            missing_raw(b"notes/a"),
            cat(&[&[0x07], &lp(b"other")]),
            cat(&[&[0x05, 0x01], &lp(b"_devices")]),
            cat(&[&[0x03], &lp(b"notes/x"), &lp(&[1])]),
            cat(&[&[0x0a, 0x03], &lp("é".as_bytes())]),
        ];
        for (i, twin) in twins.iter().enumerate() {
            assert!(
                Message::decode(twin).is_ok(),
                "twin {i}: {:?}",
                Message::decode(twin)
            );
        }
        assert!(Message::decode(&reconcile_raw(&[skip_to(&[0x02])])).is_err());
        assert!(Message::decode(&reconcile_raw(&[cat(&[END, &[0x03]])])).is_err());
    }
}
