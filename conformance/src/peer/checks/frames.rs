//! Malformed and oversized frames after a completed handshake (HS-FRAME-2, HS-FRAME-3,
//! HS-MSG-1, HS-MSG-2, HS-DOC-3): each on a fresh session, each must end with its close code.

use humansync_protocol::CloseCode;
use humansync_protocol::limits::{MAX_FRAME_LEN, MAX_WANT};

use super::super::wire::Dialer;
use super::super::{Cases, Target};
use super::expect_close_after;
use super::handshake::framed;

/// One frame case: id, requirements, description, bytes, expected close code.
type FrameCase = (
    &'static str,
    &'static [&'static str],
    &'static str,
    Vec<u8>,
    CloseCode,
);

/// Runs every frame case.
pub(crate) async fn all(target: &Target, dialer: &Dialer, cases: &mut Cases) {
    for (id, reqs, description, bytes, want) in frame_cases() {
        let verdict = expect_close_after(dialer, target, true, &bytes, want).await;
        cases.add(id, reqs, description, verdict);
    }
}

fn frame_cases() -> Vec<FrameCase> {
    let too_large = MAX_FRAME_LEN + 1;
    // DocWant whose element count is MAX_WANT + 1, followed by nothing.
    let mut over_bound = vec![0x05];
    over_bound.extend_from_slice(&varint(MAX_WANT + 1));
    vec![
        (
            "frame/too-large",
            &["HS-FRAME-2"],
            "a frame header with L = MAX_FRAME_LEN + 1 (no payload follows): close CLOSE_FRAME_TOO_LARGE",
            too_large.to_be_bytes().to_vec(),
            CloseCode::FRAME_TOO_LARGE,
        ),
        (
            "frame/zero-length",
            &["HS-FRAME-2"],
            "a frame header with L = 0: close CLOSE_MALFORMED",
            vec![0, 0, 0, 0],
            CloseCode::MALFORMED,
        ),
        (
            "frame/unknown-variant",
            &["HS-FRAME-3", "HS-MSG-1"],
            "payload 0f (unassigned message index 15): close CLOSE_MALFORMED",
            framed(&[0x0f]),
            CloseCode::MALFORMED,
        ),
        (
            "frame/trailing-bytes",
            &["HS-FRAME-3"],
            "DocMissing{\"_settings\"} followed by one extra byte: close CLOSE_MALFORMED",
            framed(&[&[0x06, 0x09][..], b"_settings", &[0x00]].concat()),
            CloseCode::MALFORMED,
        ),
        (
            "frame/truncated",
            &["HS-FRAME-3"],
            "DocSync{\"_settings\"} cut before its message length: close CLOSE_MALFORMED",
            framed(&[&[0x03, 0x09][..], b"_settings"].concat()),
            CloseCode::MALFORMED,
        ),
        (
            "frame/invalid-doc-id",
            &["HS-DOC-3", "HS-DOC-1", "HS-FRAME-3"],
            "DocWant{[\"/abs\"]} (not a DocId): close CLOSE_MALFORMED",
            framed(&[&[0x05, 0x01, 0x04][..], b"/abs"].concat()),
            CloseCode::MALFORMED,
        ),
        (
            "frame/over-bound-count",
            &["HS-MSG-2"],
            "DocWant whose count is MAX_WANT + 1: close CLOSE_MALFORMED",
            framed(&over_bound),
            CloseCode::MALFORMED,
        ),
    ]
}

/// The LEB128 varint of `n` (SPEC.md §2.4).
fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}
