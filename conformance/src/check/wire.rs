//! Frames and messages (HS-FRAME-1..3, HS-MSG-1, HS-MSG-2).

use humansync_protocol::{FrameDecoder, Message};
use serde_json::{Value, json};

use super::Observed;
use crate::format::Case;
use crate::repr;

/// `frames`: `input` is a whole received byte stream. Valid: every frame decodes,
/// nothing is left over; `expected = {"messages": [..]}`. Invalid: `expected =
/// {"messages": [decoded before the error], "close_code": n}`, with `close_code`
/// null when the stream merely ends inside a frame (reason `truncated`).
pub(crate) fn frames(case: &Case) -> Result<Observed, String> {
    let input = case.hex_field("input")?;
    let mut decoder = FrameDecoder::new();
    decoder.push(&input);
    let mut messages = Vec::new();
    loop {
        match decoder.next_message() {
            Ok(Some(msg)) => messages.push(repr::message(&msg)),
            Ok(None) => break,
            Err(e) => {
                return Ok(Observed::reject(
                    json!({"messages": messages, "close_code": e.close_code().0}),
                ));
            }
        }
    }
    if decoder.buffered() > 0 {
        return Ok(Observed::reject(
            json!({"messages": messages, "close_code": Value::Null}),
        ));
    }
    Ok(Observed::accept(json!({ "messages": messages })))
}

/// `frame_header`: `input` is 4 header bytes and nothing else. Valid: the
/// receiver waits for `expected.length` payload bytes; invalid: it closes at
/// once, before reading (allocating) the payload, with `expected.close_code`.
pub(crate) fn frame_header(case: &Case) -> Result<Observed, String> {
    let input = case.hex_field("input")?;
    let header: [u8; 4] = input
        .as_slice()
        .try_into()
        .map_err(|_| "input must be exactly 4 bytes".to_owned())?;
    let mut decoder = FrameDecoder::new();
    decoder.push(&header);
    match decoder.next_payload() {
        Ok(None) => Ok(Observed::accept(json!({"length": u32::from_be_bytes(header)}))),
        Ok(Some(_)) => Err("a bare header yielded a payload".to_owned()),
        Err(e) => Ok(Observed::reject(json!({"close_code": e.close_code().0}))),
    }
}

/// `message`: `input` is one frame payload. Valid: it decodes as exactly one
/// message, `expected` is its JSON form; invalid: `expected = {"close_code": 4}`.
pub(crate) fn message(case: &Case) -> Result<Observed, String> {
    let input = case.hex_field("input")?;
    Ok(match Message::decode(&input) {
        Ok(msg) => Observed::accept(repr::message(&msg)),
        Err(e) => Observed::reject(json!({"close_code": e.close_code().0})),
    })
}
