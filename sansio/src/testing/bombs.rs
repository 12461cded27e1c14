//! Hostile Automerge bytes for tests, conformance vectors and fuzz seeds (HS-SYNC-12): small
//! inputs with valid framing and checksums that Automerge would inflate or expand enormously,
//! and sync messages whose Bloom filters Automerge would trust.
//!
//! Building one costs what hashing its inflated size costs (the DEFLATE stream repeats one
//! flushed segment, so it is never compressed in full).

use flate2::{Compress, Compression, FlushCompress};
use sha2::{Digest, Sha256};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const SEGMENT: usize = 1 << 20;

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn compress(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 1024);
    // The capacity exceeds any DEFLATE output of `input`, so one call consumes it all.
    let _ = c.compress_vec(input, &mut out, flush);
    out
}

/// A raw DEFLATE stream of `prefix` followed by `zeros` zero bytes (rounded up to MiB).
pub fn deflate_zeros(prefix: &[u8], zeros: usize) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let mut out = compress(&mut c, prefix, FlushCompress::Full);
    let block = vec![0u8; SEGMENT];
    let first = compress(&mut c, &block, FlushCompress::Full);
    let second = compress(&mut c, &block, FlushCompress::Full);
    // After a full flush the compressor starts afresh, so every segment encodes the same.
    assert_eq!(first, second, "full-flushed segments repeat");
    for _ in 0..zeros.div_ceil(SEGMENT) {
        out.extend_from_slice(&first);
    }
    out.extend(compress(&mut c, &[], FlushCompress::Finish));
    out
}

/// The SHA-256 checksum of a chunk of `kind` whose data is `prefix` then `zeros` zero bytes.
fn checksum(kind: u8, prefix: &[u8], zeros: usize) -> [u8; 4] {
    let mut hasher = Sha256::new();
    let mut head = vec![kind];
    uleb(&mut head, (prefix.len() + zeros) as u64);
    hasher.update(&head);
    hasher.update(prefix);
    let block = vec![0u8; SEGMENT];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(SEGMENT);
        hasher.update(&block[..n]);
        left -= n;
    }
    let d = hasher.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn chunk(kind: u8, checksum: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&checksum);
    out.push(kind);
    uleb(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

/// A compressed change chunk (type 2) with a valid checksum: an empty change whose message is
/// `inflated` (rounded up to MiB) NUL bytes — valid UTF-8, so Automerge inflates, copies and
/// keeps all of it. About 1 KiB per MiB inflated.
pub fn compressed_change(inflated: usize, actor: [u8; 16]) -> Vec<u8> {
    let zeros = inflated.div_ceil(SEGMENT) * SEGMENT;
    let mut prefix = vec![0]; // no deps
    uleb(&mut prefix, 16);
    prefix.extend_from_slice(&actor);
    prefix.extend_from_slice(&[1, 1, 0]); // seq 1, start op 1, time 0
    uleb(&mut prefix, zeros as u64); // message length; the zeros follow
    let suffix_len = 2; // no other actors, no op columns
    // The inflated change is prefix, zeros, then the two suffix bytes: hash it in that order.
    let mut hasher = Sha256::new();
    let mut head = vec![1u8];
    uleb(&mut head, (prefix.len() + zeros + suffix_len) as u64);
    hasher.update(&head);
    hasher.update(&prefix);
    let block = vec![0u8; SEGMENT];
    for _ in 0..zeros / SEGMENT {
        hasher.update(&block);
    }
    hasher.update([0u8, 0u8]);
    let d = hasher.finalize();
    // DEFLATE of prefix + zeros + [0, 0]: the two trailing zeros are more zeros.
    let mut c = Compress::new(Compression::best(), false);
    let mut data = compress(&mut c, &prefix, FlushCompress::Full);
    let seg = compress(&mut c, &block, FlushCompress::Full);
    for _ in 0..zeros / SEGMENT {
        data.extend_from_slice(&seg);
    }
    data.extend(compress(&mut c, &[0, 0], FlushCompress::Finish));
    chunk(2, [d[0], d[1], d[2], d[3]], &data)
}

/// A document chunk (type 0) with a valid checksum whose one op column, a raw value column
/// marked DEFLATE'd, inflates to `inflated` (rounded up to MiB) zero bytes.
pub fn deflated_column_document(inflated: usize) -> Vec<u8> {
    let column = deflate_zeros(&[], inflated);
    let mut data = vec![0, 0, 0]; // no actors, no heads, no change columns
    data.push(1); // one op column
    uleb(&mut data, (1 << 4) | 0b1000 | 7); // id 1, deflated, raw value
    uleb(&mut data, column.len() as u64);
    data.extend_from_slice(&column);
    let sum = checksum(0, &data, 0);
    chunk(0, sum, &data)
}

/// A document chunk (type 0) with a valid checksum whose op columns declare `rows` operations
/// in a few bytes of run-length encoding (no DEFLATE at all).
pub fn run_length_document(rows: u64) -> Vec<u8> {
    let mut column = Vec::new();
    // One run of `rows` copies of the value 1 (a signed LEB128 count).
    let mut count = rows;
    loop {
        let byte = (count & 0x7f) as u8;
        count >>= 7;
        if count == 0 && byte & 0x40 == 0 {
            column.push(byte);
            break;
        }
        column.push(byte | 0x80);
    }
    column.push(1);
    let mut data = vec![0, 0, 0];
    data.push(1);
    uleb(&mut data, (3 << 4) | 2); // id 3 (action), uleb
    uleb(&mut data, column.len() as u64);
    data.extend_from_slice(&column);
    let sum = checksum(0, &data, 0);
    chunk(0, sum, &data)
}

/// An Automerge sync message (version 1) carrying `changes` and no Bloom filter.
pub fn sync_message(changes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0x42, 0, 0, 0]; // no heads, no need, no haves
    uleb(&mut out, changes.len() as u64);
    for c in changes {
        uleb(&mut out, c.len() as u64);
        out.extend_from_slice(c);
    }
    out
}

/// An Automerge sync message (version 1) with one `have` whose Bloom filter declares these
/// parameters, followed by `bits` filter bytes.
pub fn sync_message_with_bloom(entries: u32, bits_per_entry: u32, probes: u32, bits: usize) -> Vec<u8> {
    let mut bloom = Vec::new();
    uleb(&mut bloom, u64::from(entries));
    uleb(&mut bloom, u64::from(bits_per_entry));
    uleb(&mut bloom, u64::from(probes));
    bloom.extend(std::iter::repeat_n(0xffu8, bits));
    let mut out = vec![0x42, 0, 0, 1, 0]; // no heads, no need, one have with no last-sync
    uleb(&mut out, bloom.len() as u64);
    out.extend_from_slice(&bloom);
    out.push(0); // no changes
    out
}
