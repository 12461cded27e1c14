//! The structure of an Automerge sync message, walked without decoding it.
//!
//! ```text
//! type (0x42 | 0x43), heads, need, have*, changes*, [flags]
//! have    = last-sync hashes, Bloom filter bytes (empty, or entries, bits per entry, probes, bits)
//! changes = a count of length-prefixed chunk sequences, each checked like a saved document
//! ```
//!
//! Automerge allocates and loops per declared Bloom probe and divides by the filter's bit count,
//! so a filter with a huge probe count or entries but no bits is refused here.

use humansync_protocol::limits::{MAX_BLOOM_BITS_PER_ENTRY, MAX_BLOOM_PROBES};

use super::chunk::walk_chunks;
use super::reader::Reader;
use super::{Budget, UntrustedError};

const SYNC_V1: u8 = 0x42;
const SYNC_V2: u8 = 0x43;
const HASH_LEN: u64 = 32;

/// Checks a sync message's structure, its Bloom filters and every change it carries.
pub(super) fn walk_sync_message(bytes: &[u8], budget: &mut Budget) -> Result<(), UntrustedError> {
    let mut r = Reader::new(bytes);
    if !matches!(r.u8()?, SYNC_V1 | SYNC_V2) {
        return Err(UntrustedError::Malformed(0, "sync message type"));
    }
    for _ in 0..2 {
        // heads, need
        let count = r.uleb()?;
        r.skip_items(count, HASH_LEN)?;
    }
    let haves = r.uleb()?;
    for _ in 0..haves {
        let count = r.uleb()?;
        r.skip_items(count, HASH_LEN)?;
        check_bloom(r.prefixed()?)?;
    }
    let changes = r.uleb()?;
    for _ in 0..changes {
        let at = r.at();
        let chunk = r.prefixed()?;
        walk_chunks(chunk, budget).map_err(|e| match e {
            UntrustedError::Empty => UntrustedError::Malformed(at, "empty change"),
            e => e,
        })?;
    }
    if !r.is_empty() {
        r.prefixed()?; // flags; anything after them is ignored, as Automerge does
    }
    Ok(())
}

fn check_bloom(bytes: &[u8]) -> Result<(), UntrustedError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut r = Reader::new(bytes);
    let entries = r.uleb()?;
    let bits_per_entry = r.uleb()?;
    let probes = r.uleb()?;
    if entries > u64::from(u32::MAX)
        || bits_per_entry > u64::from(MAX_BLOOM_BITS_PER_ENTRY)
        || probes > u64::from(MAX_BLOOM_PROBES)
    {
        return Err(UntrustedError::Bloom);
    }
    if entries > 0 {
        // Automerge takes ceil(entries * bits / 8) bytes and reduces probes modulo 8 * that.
        let bits = (entries * bits_per_entry).div_ceil(8);
        if bits == 0 {
            return Err(UntrustedError::Bloom);
        }
        r.take(bits).map_err(|_| UntrustedError::Bloom)?;
    }
    Ok(())
}
