//! Hand-built encodings for invalid inputs: postcard varints and length-prefixed strings.

use humansync_protocol::Message;

/// postcard's unsigned LEB128 varint.
pub(crate) fn varint(mut n: u64) -> Vec<u8> {
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

/// A postcard string or byte string: varint length, then the bytes.
pub(crate) fn lp(bytes: &[u8]) -> Vec<u8> {
    let mut out = varint(bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

/// Concatenates byte pieces.
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The encoding of a message that is within every limit.
pub(crate) fn enc(msg: &Message) -> Vec<u8> {
    // Generator inputs are built within the limits; an empty payload would fail its case loudly.
    msg.encode().unwrap_or_default()
}

/// Hex of bytes.
pub(crate) fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}
