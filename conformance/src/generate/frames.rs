//! frames.json: the 4-byte length prefix and streams of frames (HS-FRAME-1..3).

use humansync_protocol::limits::MAX_FRAME_LEN;
use humansync_protocol::{CloseCode, Fingerprint, Message, SetSummary};
use serde_json::{Value, json};

use super::bytes::{cat, enc, hx};
use super::{Cases, doc};
use crate::format::{Case, Expect};
use crate::repr;

pub(crate) const DESCRIPTION: &str = "Framing: a frame is a 4-byte big-endian payload length L in 1..=MAX_FRAME_LEN, \
then L payload bytes holding exactly one message. `frames` cases are whole received streams; \
`frame_header` cases are a bare header, checked before any payload is read.";

const F1: &[&str] = &["HS-FRAME-1"];
const F2: &[&str] = &["HS-FRAME-2"];
const F3: &[&str] = &["HS-FRAME-1", "HS-FRAME-3"];

fn frame(msg: &Message) -> Vec<u8> {
    with_len(&enc(msg))
}

fn with_len(payload: &[u8]) -> Vec<u8> {
    cat(&[&(payload.len() as u32).to_be_bytes(), payload])
}

fn hello() -> Message {
    Message::Hello {
        versions: vec![1],
        set: SetSummary {
            count: 0,
            fingerprint: Fingerprint::EMPTY,
        },
        devices: humansync_protocol::digest::heads_digest(&[]),
    }
}

fn stream(cases: &mut Cases, reqs: &[&str], what: &str, input: &[u8], msgs: &[Message]) {
    let messages: Vec<Value> = msgs.iter().map(repr::message).collect();
    cases.push(
        Case::new(String::new(), "frames", reqs, what, Expect::Valid)
            .with("input", hx(input))
            .expect(json!({ "messages": messages })),
    );
}

fn broken(cases: &mut Cases, reqs: &[&str], what: &str, input: &[u8], reason: &str, before: &[Message]) {
    let code = match reason {
        "frame_too_large" => json!(CloseCode::FRAME_TOO_LARGE.0),
        "truncated" => Value::Null,
        _ => json!(CloseCode::MALFORMED.0),
    };
    let messages: Vec<Value> = before.iter().map(repr::message).collect();
    cases.push(
        Case::new(String::new(), "frames", reqs, what, Expect::Invalid)
            .with("input", hx(input))
            .because(reason)
            .expect(json!({"messages": messages, "close_code": code})),
    );
}

fn header(cases: &mut Cases, what: &str, len: u32) {
    let input = len.to_be_bytes();
    let case = Case::new(String::new(), "frame_header", F2, what, Expect::Valid).with("input", hx(&input));
    cases.push(match len {
        0 => Case {
            result: Expect::Invalid,
            ..case
        }
        .because("empty_frame")
        .expect(json!({"close_code": CloseCode::MALFORMED.0})),
        l if l > MAX_FRAME_LEN => Case {
            result: Expect::Invalid,
            ..case
        }
        .because("frame_too_large")
        .expect(json!({"close_code": CloseCode::FRAME_TOO_LARGE.0})),
        l => case.expect(json!({ "length": l })),
    });
}

/// Every frames.json case.
pub(crate) fn cases() -> Cases {
    let mut c = Cases::new("frame");
    let want = Message::DocWant {
        docs: vec![doc("notes/a"), doc("notes/b")],
    };
    let missing = Message::DocMissing { doc: doc("notes/a") };
    let close = Message::Close {
        code: CloseCode::NORMAL,
        reason: "bye".to_owned(),
    };
    stream(&mut c, F1, "one Hello frame", &frame(&hello()), &[hello()]);
    stream(
        &mut c,
        F1,
        "one DocMissing frame",
        &frame(&missing),
        std::slice::from_ref(&missing),
    );
    let three = cat(&[&frame(&hello()), &frame(&want), &frame(&close)]);
    let msgs = [hello(), want.clone(), close.clone()];
    stream(
        &mut c,
        F1,
        "three frames back to back: Hello, DocWant, Close",
        &three,
        &msgs,
    );
    stream(&mut c, F1, "an empty stream holds no frame", &[], &[]);
    let skip = Message::Reconcile {
        ranges: vec![humansync_protocol::RangeEntry {
            upper: humansync_protocol::Bound::End,
            mode: humansync_protocol::RangeMode::Skip,
        }],
    };
    let pair = cat(&[&frame(&skip), &frame(&missing)]);
    stream(
        &mut c,
        F1,
        "a Reconcile frame then a DocMissing frame",
        &pair,
        &[skip, missing.clone()],
    );

    let h = frame(&hello());
    broken(
        &mut c,
        F1,
        "the stream ends inside a header",
        &h[..2],
        "truncated",
        &[],
    );
    broken(
        &mut c,
        F1,
        "the stream ends inside a payload",
        &h[..h.len() - 3],
        "truncated",
        &[],
    );
    let cut = cat(&[&h, &frame(&missing)[..3]]);
    let before = [hello()];
    broken(
        &mut c,
        F1,
        "a whole frame, then the stream ends inside the next header",
        &cut,
        "truncated",
        &before,
    );
    let zero = cat(&[&[0, 0, 0, 0], &frame(&missing)]);
    broken(
        &mut c,
        F2,
        "a zero-length frame (then a valid one)",
        &zero,
        "empty_frame",
        &[],
    );
    let after = cat(&[&h, &[0, 0, 0, 0]]);
    broken(
        &mut c,
        F2,
        "a valid frame, then a zero-length header",
        &after,
        "empty_frame",
        &before,
    );
    let big = cat(&[&(MAX_FRAME_LEN + 1).to_be_bytes(), &[0u8; 8]]);
    broken(
        &mut c,
        F2,
        "length MAX_FRAME_LEN + 1, rejected before the payload",
        &big,
        "frame_too_large",
        &[],
    );
    let huge = cat(&[&u32::MAX.to_be_bytes(), &[6u8]]);
    broken(&mut c, F2, "length 0xffffffff", &huge, "frame_too_large", &[]);
    let later = cat(&[&h, &(MAX_FRAME_LEN + 1).to_be_bytes()]);
    broken(
        &mut c,
        F2,
        "a valid frame, then an oversized header",
        &later,
        "frame_too_large",
        &before,
    );
    let unknown = with_len(&[15]);
    broken(
        &mut c,
        F3,
        "a payload that is not a message (variant 15)",
        &unknown,
        "malformed",
        &[],
    );
    let trailing = with_len(&cat(&[&enc(&missing), &[0]]));
    broken(
        &mut c,
        F3,
        "a payload with one byte after the message",
        &trailing,
        "malformed",
        &[],
    );
    let short = enc(&missing);
    let inner = cat(&[&with_len(&short[..short.len() - 1]), &[0x61]]);
    broken(
        &mut c,
        F3,
        "a frame shorter than its message (the rest follows outside)",
        &inner,
        "malformed",
        &[],
    );
    let bad_second = cat(&[&h, &with_len(&[200])]);
    broken(
        &mut c,
        F3,
        "a valid frame, then an undecodable one",
        &bad_second,
        "malformed",
        &before,
    );

    header(&mut c, "header announcing 1 byte", 1);
    header(
        &mut c,
        "header announcing exactly MAX_FRAME_LEN bytes is accepted",
        MAX_FRAME_LEN,
    );
    header(
        &mut c,
        "header announcing MAX_FRAME_LEN + 1 bytes",
        MAX_FRAME_LEN + 1,
    );
    header(&mut c, "header announcing 0 bytes", 0);
    header(&mut c, "header announcing 0xffffffff bytes", u32::MAX);
    header(
        &mut c,
        "header announcing 0x80000000 bytes (high bit set)",
        0x8000_0000,
    );
    c
}
