//! Every bound of protocol v1, checked at the limit (accepted) and one past it
//! (rejected), on the decoding and the encoding side (HS-FRAME-2, HS-FRAME-3,
//! HS-MSG-2, HS-DOC-3, HS-ID-1).
//!
//! Over-limit inputs are hand-crafted bytes, so the decoder is tested against
//! what a hostile peer can send, not against what our encoder would produce.

mod common;
#[path = "limits/encode.rs"]
mod encode;
#[path = "limits/fields.rs"]
mod fields;
#[path = "limits/frame.rs"]
mod frame;
#[path = "limits/wire.rs"]
mod wire;

use common::varint;
use humansync_protocol::{CloseCode, DecodeError, EncodeError, FrameDecoder, FrameError, Message};

/// postcard's message for an error raised by a serde visitor (a bound or an invalid id).
pub(crate) const CUSTOM: &str = "Serde Deserialization Error";
/// postcard's message for input that ends early.
pub(crate) const UNEXPECTED_END: &str = "Hit the end of buffer, expected more data";

/// Asserts `bytes` is rejected as `Malformed` with postcard's message `why` (HS-FRAME-3).
pub(crate) fn assert_malformed(bytes: &[u8], why: &str) {
    match Message::decode(bytes) {
        Err(DecodeError::Malformed(msg)) => assert!(msg.contains(why), "expected {why:?}, got {msg:?}"),
        other => panic!("expected Malformed({why:?}), got {other:?}"),
    }
}

/// Asserts the message is rejected by the receiver with a decode error and by a framed decoder with MALFORMED.
pub(crate) fn assert_frame_malformed(payload: &[u8]) {
    let mut decoder = FrameDecoder::new();
    decoder.push(&(payload.len() as u32).to_be_bytes());
    decoder.push(payload);
    let err = decoder.next_message().expect_err("must be rejected");
    assert!(matches!(err, FrameError::Message(_)), "{err:?}");
    assert_eq!(err.close_code(), CloseCode::MALFORMED);
}

pub(crate) fn assert_encode_limit(msg: &Message) {
    match msg.encode() {
        Err(EncodeError::Limit(_)) => {}
        other => panic!(
            "{} must be refused with Limit, got {:?}",
            msg.kind(),
            other.map(|b| b.len())
        ),
    }
}

/// `len` followed by the concatenated items.
pub(crate) fn seq(len: usize, items: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut out = varint(len as u64);
    for item in items {
        out.extend(item);
    }
    out
}

/// A length-prefixed string or byte string.
pub(crate) fn text(bytes: &[u8]) -> Vec<u8> {
    seq(bytes.len(), [bytes.to_vec()])
}
