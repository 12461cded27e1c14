//! Length-prefixed framing (HS-FRAME-1, HS-FRAME-2) and an incremental decoder.
//!
//! A frame is a 4-byte big-endian payload length `L` followed by `L` payload
//! bytes. `L` must be in `1..=MAX_FRAME_LEN`; the decoder checks it as soon as
//! the four length bytes have arrived, before buffering any payload.

use crate::CloseCode;
use crate::limits::MAX_FRAME_LEN;
use crate::message::{DecodeError, EncodeError, Message};

/// Bytes in a frame header.
pub const FRAME_HEADER_LEN: usize = 4;

/// Why the byte stream is no longer a valid sequence of frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A header announced more than [`MAX_FRAME_LEN`] bytes (HS-FRAME-2).
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(u32),
    /// A header announced zero bytes (HS-FRAME-2).
    #[error("empty frame")]
    Empty,
    /// The payload is not one valid message (HS-FRAME-3).
    #[error(transparent)]
    Message(#[from] DecodeError),
}

impl FrameError {
    /// The close code a receiver sends for this error (HS-FRAME-2, HS-FRAME-3).
    pub fn close_code(&self) -> CloseCode {
        match self {
            FrameError::TooLarge(_) => CloseCode::FRAME_TOO_LARGE,
            FrameError::Empty | FrameError::Message(_) => CloseCode::MALFORMED,
        }
    }
}

/// Encodes `msg` as one frame (HS-FRAME-1).
pub fn encode_frame(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let payload = msg.encode()?;
    frame_payload(&payload)
}

/// Wraps an already encoded payload in a frame header.
pub fn frame_payload(payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| (1..=MAX_FRAME_LEN).contains(l));
    let Some(len) = len else {
        return Err(EncodeError::Limit(
            "frame payload must be 1..=MAX_FRAME_LEN bytes",
        ));
    };
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Incremental frame decoder: push received bytes in, pull whole messages out.
///
/// Never panics and never buffers more than one header plus one announced
/// payload (at most [`MAX_FRAME_LEN`]) beyond what the caller pushed. After an
/// error it stays failed: the caller closes the session with
/// [`FrameError::close_code`].
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Where the unread bytes of `buf` start: frames are taken by moving this forward, and the
    /// consumed prefix is dropped once per push, so decoding is linear in the bytes received.
    start: usize,
    failed: Option<FrameError>,
    frames: u64,
    shifted: u64,
}

impl FrameDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            if self.start > 0 {
                self.shifted += (self.buf.len() - self.start) as u64;
                self.buf.drain(..self.start);
                self.start = 0;
            }
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        match self.next_payload()? {
            None => Ok(None),
            Some(payload) => match Message::decode(&payload) {
                Ok(msg) => Ok(Some(msg)),
                Err(e) => Err(self.fail(e.into())),
            },
        }
    }

    /// The next complete frame payload, undecoded, `Ok(None)` if more bytes are needed.
    pub fn next_payload(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let unread = &self.buf[self.start..];
        let Some(header) = unread.first_chunk::<FRAME_HEADER_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header);
        if len == 0 {
            return Err(self.fail(FrameError::Empty));
        }
        if len > MAX_FRAME_LEN {
            return Err(self.fail(FrameError::TooLarge(len)));
        }
        let end = FRAME_HEADER_LEN + len as usize;
        if unread.len() < end {
            return Ok(None);
        }
        let payload = unread[FRAME_HEADER_LEN..end].to_vec();
        self.start += end;
        self.frames += 1;
        Ok(Some(payload))
    }

    /// Bytes buffered and not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Bytes moved inside the buffer so far: the decoder's copying cost beyond reading each
    /// byte once. It stays below the bytes pushed however they are split into frames and pushes.
    pub fn bytes_shifted(&self) -> u64 {
        self.shifted
    }

    /// Frames returned so far.
    pub fn frames_decoded(&self) -> u64 {
        self.frames
    }

    fn fail(&mut self, err: FrameError) -> FrameError {
        self.buf = Vec::new();
        self.start = 0;
        self.failed = Some(err.clone());
        err
    }
}
