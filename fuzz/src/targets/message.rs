//! `message`: [`Message::decode`] on arbitrary bytes (HS-FRAME-3, HS-MSG-2).
//!
//! Checked: no panic; any `Ok` re-encodes (the encoder accepts everything the decoder does)
//! and decodes to the same value; the re-encoding is canonical (decoding it and encoding
//! again gives the same bytes).

use humansync_protocol::Message;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(msg) = Message::decode(data) else {
        return;
    };
    let bytes = msg.encode().expect("a decoded message re-encodes");
    let again = Message::decode(&bytes).expect("a re-encoded message decodes");
    assert_eq!(again, msg, "decode(encode(m)) != m");
    assert_eq!(again.encode().ok(), Some(bytes), "re-encoding is not stable");
}
