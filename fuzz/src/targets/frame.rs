//! `frame`: [`FrameDecoder`] fed arbitrary bytes in arbitrary chunkings (HS-FRAME-1..3).
//!
//! Input: byte 0 = how many chunk-size bytes follow (mod 8), then those sizes (used in a
//! cycle; 0 pushes an empty chunk), then the stream. Checked: no panic; after every drain the
//! buffer holds less than one whole frame and never more than `FRAME_HEADER_LEN +
//! MAX_FRAME_LEN`; after an error the decoder stays failed with the same error and buffers
//! nothing; the chunking does not change the outcome; every decoded message re-encodes to a
//! frame that decodes to itself.

use humansync_protocol::limits::MAX_FRAME_LEN;
use humansync_protocol::{FRAME_HEADER_LEN, FrameDecoder, FrameError, Message, encode_frame};

/// What a decoder produced from a stream: its messages, then the error that stopped it.
#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<Message>,
    error: Option<FrameError>,
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 8).min(rest.len());
    let (sizes, stream) = rest.split_at(n);
    let sizes: Vec<usize> = sizes.iter().map(|&s| usize::from(s)).collect();
    let whole = decode(stream, &[stream.len().max(1)]);
    let chunked = decode(stream, if sizes.is_empty() { &[1] } else { &sizes });
    assert_eq!(whole, chunked, "the chunking changed the outcome");
    for msg in &whole.messages {
        let frame = encode_frame(msg).expect("a decoded message re-encodes");
        let mut again = FrameDecoder::new();
        again.push(&frame);
        assert_eq!(again.next_message().as_ref(), Ok(&Some(msg.clone())));
        assert_eq!(again.buffered(), 0);
    }
}

/// Pushes `stream` in chunks of the given sizes (cycled), draining after every push.
/// Returns at once for an empty stream.
fn decode(stream: &[u8], sizes: &[usize]) -> Outcome {
    let mut decoder = FrameDecoder::new();
    let mut outcome = Outcome {
        messages: Vec::new(),
        error: None,
    };
    let mut pushed = 0;
    let mut size = sizes.iter().cycle();
    if stream.is_empty() {
        return outcome;
    }
    loop {
        // A size of 0 pushes an empty chunk, then one byte (so every loop makes progress).
        let wanted = size.next().copied().unwrap_or(1);
        if wanted == 0 {
            decoder.push(&[]);
        }
        let take = wanted.max(1).min(stream.len() - pushed);
        decoder.push(&stream[pushed..pushed + take]);
        pushed += take;
        let rest = &stream[pushed..];
        drain(&mut decoder, &mut outcome, &stream[..pushed]);
        if outcome.error.is_some() {
            // HS-FRAME-2/3: a failed decoder stays failed and buffers nothing more.
            let err = outcome.error.clone();
            decoder.push(rest);
            decoder.push(&[0, 0, 0, 1, 0]);
            assert_eq!(decoder.buffered(), 0, "a failed decoder buffers");
            assert_eq!(decoder.next_message().err(), err, "a failed decoder recovered");
            assert_eq!(decoder.next_payload().err(), err, "a failed decoder recovered");
            let payloads =
                outcome.messages.len() as u64 + u64::from(matches!(err, Some(FrameError::Message(_))));
            assert_eq!(decoder.frames_decoded(), payloads);
            return outcome;
        }
        if rest.is_empty() {
            assert_eq!(decoder.frames_decoded(), outcome.messages.len() as u64);
            return outcome;
        }
    }
}

/// Pulls every complete message; `pushed` is everything pushed so far (the buffer is its tail).
fn drain(decoder: &mut FrameDecoder, outcome: &mut Outcome, pushed: &[u8]) {
    loop {
        match decoder.next_message() {
            Ok(Some(msg)) => outcome.messages.push(msg),
            Ok(None) => {
                let buffered = decoder.buffered();
                assert!(buffered <= FRAME_HEADER_LEN + MAX_FRAME_LEN as usize);
                // Less than one whole frame remains.
                let buffer = &pushed[pushed.len() - buffered..];
                if let Some(header) = buffer.first_chunk::<FRAME_HEADER_LEN>() {
                    let frame = FRAME_HEADER_LEN + u32::from_be_bytes(*header) as usize;
                    assert!(
                        buffered < frame,
                        "a whole frame of {frame} bytes was left buffered"
                    );
                }
                return;
            }
            Err(e) => {
                assert_eq!(decoder.buffered(), 0, "a failed decoder keeps its buffer");
                outcome.error = Some(e);
                return;
            }
        }
    }
}
