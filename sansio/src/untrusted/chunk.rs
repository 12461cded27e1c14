//! Automerge storage chunks: framing, checksums, and a walk of each chunk's structure down to
//! its columns.
//!
//! A chunk is the magic bytes `85 6f 4a 83`, a 4-byte checksum, a type byte, an unsigned LEB128
//! length and that many data bytes; the checksum is the first four bytes of SHA-256 over the
//! type byte, the length as written and the data. A compressed change (type 2) is a change whose
//! data is DEFLATE'd and whose checksum is that of the inflated change (type 1, its length).
//!
//! ```text
//! document (0): actors, heads, change column meta, op column meta, change data, op data, [head indices]
//! change   (1): deps, actor, seq, start op, time, message, other actors, op column meta, op data, [extra]
//! bundle   (3): deps, actors, change column meta, change data, op column meta, op data
//! ```

use sha2::{Digest, Sha256};

use super::columns::{self, Column};
use super::inflate::inflate;
use super::reader::Reader;
use super::{Budget, UntrustedError};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const COMPRESSED_CHANGE: u8 = 2;
const BUNDLE: u8 = 3;
const HASH_LEN: u64 = 32;

/// Checks that `bytes` are one or more whole Automerge chunks within `budget`.
pub(super) fn walk_chunks(bytes: &[u8], budget: &mut Budget) -> Result<(), UntrustedError> {
    if bytes.is_empty() {
        return Err(UntrustedError::Empty);
    }
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        walk_chunk(bytes, &mut r, budget)?;
    }
    Ok(())
}

/// Checks the chunk at the reader's position and moves past it.
fn walk_chunk(bytes: &[u8], r: &mut Reader<'_>, budget: &mut Budget) -> Result<(), UntrustedError> {
    let start = r.at();
    let magic = r.take(4).map_err(|_| UntrustedError::Truncated(start))?;
    if magic != MAGIC {
        return Err(UntrustedError::Magic(start));
    }
    let checksum = r.take(4).map_err(|_| UntrustedError::Truncated(start))?;
    let kind = r.u8().map_err(|_| UntrustedError::Truncated(start))?;
    if !matches!(kind, DOCUMENT | CHANGE | COMPRESSED_CHANGE | BUNDLE) {
        return Err(UntrustedError::ChunkType(start, kind));
    }
    let len = r.uleb()?;
    let data_at = r.at();
    let data = r.take(len).map_err(|_| UntrustedError::Truncated(start))?;
    // Every chunk is at least one change (or a document), whatever its columns say.
    budget.charge_rows(1)?;
    if kind == COMPRESSED_CHANGE {
        let inflated = inflate(data, budget, data_at)?;
        if checksum_of(CHANGE, &inflated) != checksum {
            return Err(UntrustedError::Checksum(start));
        }
        return walk_change(&inflated, budget, 0);
    }
    // The hash covers the type byte, the length exactly as written, and the data.
    if Sha256::digest(&bytes[start + 8..r.at()])[..4] != *checksum {
        return Err(UntrustedError::Checksum(start));
    }
    budget.charge_bytes(len)?;
    match kind {
        DOCUMENT => walk_document(data, budget, data_at),
        CHANGE => walk_change(data, budget, data_at),
        _ => walk_bundle(data, budget, data_at),
    }
}

fn checksum_of(kind: u8, data: &[u8]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update([kind]);
    let mut len = data.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            hasher.update([byte]);
            break;
        }
        hasher.update([byte | 0x80]);
    }
    hasher.update(data);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A count of length-prefixed actor ids.
fn skip_actors(r: &mut Reader<'_>) -> Result<(), UntrustedError> {
    let count = r.uleb()?;
    for _ in 0..count {
        r.prefixed()?;
    }
    Ok(())
}

/// A count of change hashes.
fn skip_hashes(r: &mut Reader<'_>) -> Result<u64, UntrustedError> {
    let count = r.uleb()?;
    r.skip_items(count, HASH_LEN)?;
    Ok(count)
}

/// Column data following its metadata: charged as rows.
fn walk_columns(
    r: &mut Reader<'_>,
    meta: &[Column],
    budget: &mut Budget,
    base: usize,
) -> Result<(), UntrustedError> {
    let at = base + r.at();
    let len = columns::data_len(meta, at)?;
    let data = r.take(len).map_err(|_| UntrustedError::Truncated(at))?;
    let rows = columns::walk(meta, data, budget, at)?;
    budget.charge_rows(rows)
}

fn walk_document(data: &[u8], budget: &mut Budget, base: usize) -> Result<(), UntrustedError> {
    let mut r = Reader::new(data);
    skip_actors(&mut r).map_err(|e| at(e, base))?;
    skip_hashes(&mut r).map_err(|e| at(e, base))?;
    let change_meta = columns::read_meta(&mut r).map_err(|e| at(e, base))?;
    let op_meta = columns::read_meta(&mut r).map_err(|e| at(e, base))?;
    walk_columns(&mut r, &change_meta, budget, base)?;
    walk_columns(&mut r, &op_meta, budget, base)?;
    // The head indices (absent from old saves) are not inflated: nothing more to bound.
    Ok(())
}

fn walk_change(data: &[u8], budget: &mut Budget, base: usize) -> Result<(), UntrustedError> {
    let mut r = Reader::new(data);
    let header = |r: &mut Reader<'_>| -> Result<Vec<Column>, UntrustedError> {
        skip_hashes(r)?;
        r.prefixed()?; // actor
        r.uleb()?; // seq
        r.uleb()?; // start op
        r.sleb()?; // time
        r.prefixed()?; // message
        skip_actors(r)?;
        columns::read_meta(r)
    };
    let meta = header(&mut r).map_err(|e| at(e, base))?;
    walk_columns(&mut r, &meta, budget, base)
}

fn walk_bundle(data: &[u8], budget: &mut Budget, base: usize) -> Result<(), UntrustedError> {
    let mut r = Reader::new(data);
    skip_hashes(&mut r).map_err(|e| at(e, base))?;
    skip_actors(&mut r).map_err(|e| at(e, base))?;
    let change_meta = columns::read_meta(&mut r).map_err(|e| at(e, base))?;
    walk_columns(&mut r, &change_meta, budget, base)?;
    let op_meta = columns::read_meta(&mut r).map_err(|e| at(e, base))?;
    walk_columns(&mut r, &op_meta, budget, base)
}

/// Moves an error's offset from a chunk's data to the enclosing buffer.
fn at(e: UntrustedError, base: usize) -> UntrustedError {
    match e {
        UntrustedError::Truncated(x) => UntrustedError::Truncated(base + x),
        UntrustedError::Leb128(x) => UntrustedError::Leb128(base + x),
        UntrustedError::Malformed(x, what) => UntrustedError::Malformed(base + x, what),
        other => other,
    }
}

/// The byte range of each chunk of `bytes` (already checked by [`walk_chunks`]); `None` if the
/// framing does not hold.
pub(super) fn boundaries(bytes: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let start = r.at();
        r.take(9).ok()?; // magic, checksum, type
        let len = r.uleb().ok()?;
        r.take(len).ok()?;
        out.push(start..r.at());
    }
    Some(out)
}
