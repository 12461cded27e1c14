//! Frame header limits (HS-FRAME-1, HS-FRAME-2).

use humansync_protocol::limits::MAX_FRAME_LEN;
use humansync_protocol::{
    CloseCode, EncodeError, FRAME_HEADER_LEN, FrameDecoder, FrameError, Message, encode_frame, frame_payload,
};

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

#[test]
fn decoding_many_frames_from_one_read_is_linear() {
    // Issue 16 §3: 20,000 small frames arriving in one read (HS-FRAME-1). Draining the buffer
    // once per frame moves every byte after it, so the copying grows with the square of the
    // frames; the decoder may move at most the bytes pushed.
    let frame = encode_frame(&Message::DocMissing {
        doc: humansync_protocol::DocId::new("notes/a").expect("id"),
    })
    .expect("frame");
    let frames = 20_000;
    let stream: Vec<u8> = frame.iter().copied().cycle().take(frame.len() * frames).collect();
    let mut decoder = FrameDecoder::new();
    decoder.push(&stream);
    let mut decoded = 0;
    while decoder.next_message().expect("valid").is_some() {
        decoded += 1;
    }
    assert_eq!(decoded, frames);
    assert!(
        decoder.bytes_shifted() <= stream.len() as u64,
        "{} bytes moved to decode {} bytes",
        decoder.bytes_shifted(),
        stream.len()
    );
    // The same stream split into odd-sized reads, drained after each.
    let mut decoder = FrameDecoder::new();
    let mut decoded = 0;
    for chunk in stream.chunks(4093) {
        decoder.push(chunk);
        while decoder.next_message().expect("valid").is_some() {
            decoded += 1;
        }
    }
    assert_eq!(decoded, frames);
    assert!(decoder.bytes_shifted() <= stream.len() as u64);
}
