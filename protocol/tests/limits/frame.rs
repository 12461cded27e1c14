//! Frame header limits (HS-FRAME-1, HS-FRAME-2).

use humansync_protocol::limits::MAX_FRAME_LEN;
use humansync_protocol::{CloseCode, EncodeError, FRAME_HEADER_LEN, FrameDecoder, FrameError, frame_payload};

#[test]
fn frame_header_too_large_is_decided_after_four_bytes() {
    // HS-FRAME-2: checked before allocating; FRAME_TOO_LARGE.
    let header = (MAX_FRAME_LEN + 1).to_be_bytes();
    let mut decoder = FrameDecoder::new();
    for (i, byte) in header[..3].iter().enumerate() {
        decoder.push(&[*byte]);
        assert_eq!(decoder.next_message(), Ok(None));
        assert_eq!(decoder.buffered(), i + 1);
    }
    decoder.push(&header[3..]);
    assert!(decoder.buffered() <= FRAME_HEADER_LEN);
    let err = decoder.next_message().expect_err("too large");
    assert_eq!(err, FrameError::TooLarge(MAX_FRAME_LEN + 1));
    assert_eq!(err.close_code(), CloseCode::FRAME_TOO_LARGE);
    assert_eq!(decoder.buffered(), 0, "the buffer is dropped on failure");
    // The decoder stays failed and buffers nothing more.
    decoder.push(&[0u8; 1000]);
    assert_eq!(decoder.buffered(), 0);
    assert_eq!(
        decoder.next_message(),
        Err(FrameError::TooLarge(MAX_FRAME_LEN + 1))
    );
    assert_eq!(decoder.frames_decoded(), 0);
}

#[test]
fn frame_header_u32_max_is_too_large() {
    // HS-FRAME-2
    let mut decoder = FrameDecoder::new();
    decoder.push(&u32::MAX.to_be_bytes());
    assert_eq!(decoder.next_message(), Err(FrameError::TooLarge(u32::MAX)));
}

#[test]
fn frame_header_at_the_limit_waits_for_the_payload() {
    // HS-FRAME-2: exactly MAX_FRAME_LEN is allowed; the decoder just waits.
    let mut decoder = FrameDecoder::new();
    decoder.push(&MAX_FRAME_LEN.to_be_bytes());
    assert_eq!(decoder.next_message(), Ok(None));
    assert_eq!(decoder.buffered(), FRAME_HEADER_LEN);
}

#[test]
fn zero_length_frame_is_malformed() {
    // HS-FRAME-2: L == 0 → CLOSE_MALFORMED.
    let mut decoder = FrameDecoder::new();
    decoder.push(&[0, 0, 0, 0]);
    let err = decoder.next_message().expect_err("empty");
    assert_eq!(err, FrameError::Empty);
    assert_eq!(err.close_code(), CloseCode::MALFORMED);
    assert_eq!(
        frame_payload(&[]),
        Err(EncodeError::Limit(
            "frame payload must be 1..=MAX_FRAME_LEN bytes"
        ))
    );
}

#[test]
fn frame_payload_over_the_limit_is_refused() {
    // HS-FRAME-2, encoding side.
    let payload = vec![0u8; MAX_FRAME_LEN as usize + 1];
    assert!(matches!(frame_payload(&payload), Err(EncodeError::Limit(_))));
    let at_limit = vec![0u8; MAX_FRAME_LEN as usize];
    let framed = frame_payload(&at_limit).expect("at the limit");
    assert_eq!(framed.len(), FRAME_HEADER_LEN + MAX_FRAME_LEN as usize);
}
