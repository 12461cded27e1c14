//! Automerge bytes from peers are untrusted input (HS-SYNC-12): the one gate every parse of them
//! goes through.
//!
//! Automerge inflates compressed change chunks and DEFLATE'd columns without a bound, expands
//! run lengths into changes and operations, and trusts a sync message's Bloom filter
//! parameters. Before any Automerge parse, the bytes are walked here, allocating nothing that
//! the bounds have not admitted:
//!
//! 1. framing and checksums of every chunk (HS-SYNC-12);
//! 2. the structure of every chunk down to its column metadata;
//! 3. every compressed chunk and DEFLATE'd column inflated into a counting sink, stopping one
//!    byte past [`MAX_AUTOMERGE_EXPANDED_BYTES`] summed over the whole parse, and only then
//!    inflated into a buffer of its exact size;
//! 4. the rows every column declares (run lengths counted, never expanded), the most of any
//!    column per chunk, summed over the parse, at most [`MAX_AUTOMERGE_ROWS`];
//! 5. for sync messages, their structure and Bloom filters (probes at most
//!    [`MAX_BLOOM_PROBES`], bits per entry at most [`MAX_BLOOM_BITS_PER_ENTRY`], no filter with
//!    entries but no bits).
//!
//! The walk costs at most the bounds (inflating twice, hashing once) and no Automerge parse.
//! Only bytes that pass reach Automerge, through [`load`], [`load_incremental`] and
//! [`decode_sync_message`]; the core calls Automerge's parsers nowhere else (sansio's
//! clippy.toml forbids them).
//!
//! [`MAX_AUTOMERGE_EXPANDED_BYTES`]: humansync_protocol::limits::MAX_AUTOMERGE_EXPANDED_BYTES
//! [`MAX_AUTOMERGE_ROWS`]: humansync_protocol::limits::MAX_AUTOMERGE_ROWS
//! [`MAX_BLOOM_PROBES`]: humansync_protocol::limits::MAX_BLOOM_PROBES
//! [`MAX_BLOOM_BITS_PER_ENTRY`]: humansync_protocol::limits::MAX_BLOOM_BITS_PER_ENTRY

mod budget;
mod chunk;
mod columns;
mod error;
mod inflate;
mod links;
mod reader;
mod sync_message;

use automerge::{Automerge, sync};

pub use budget::Budget;
pub use error::UntrustedError;

/// Checks saved document bytes (a save, incremental saves, a `DocWhole`'s or `DocChanges`'
/// bytes) within the protocol's bounds; returns what they cost.
pub fn check_saved(bytes: &[u8]) -> Result<Budget, UntrustedError> {
    check_saved_within(bytes, Budget::default())
}

/// [`check_saved`] within `budget`.
pub fn check_saved_within(bytes: &[u8], mut budget: Budget) -> Result<Budget, UntrustedError> {
    chunk::walk_chunks(bytes, &mut budget)?;
    Ok(budget)
}

/// Checks change bytes (a `DocChanges`) within the protocol's bounds and, when they are only
/// uncompressed change chunks that build on `heads` alone — each depends on at least one change,
/// every dependency is one of `heads` or an earlier change of the bytes, none comes twice —
/// returns the heads a document at `heads` has after them (sorted). `Ok(None)`: within the
/// bounds, but whether they apply is only known with the document parsed.
///
/// Such bytes can be appended to the stored document without parsing it (issue 22 §1): every
/// change is new to it and Automerge applies them in order. What no walk can see — a change
/// Automerge refuses once parsed (a sequence number used twice, operations on objects that do
/// not exist) — is dropped when the document is next loaded ([`load_salvaging`]).
pub fn heads_after(
    bytes: &[u8],
    heads: &[humansync_protocol::ChangeHash],
) -> Result<Option<Vec<humansync_protocol::ChangeHash>>, UntrustedError> {
    check_saved(bytes)?;
    Ok(links::heads_after(bytes, heads))
}

/// [`load`], and when Automerge refuses the whole, the most it accepts: the first chunk, then
/// each later chunk that applies on top of what came before (the others are dropped). Returns
/// the document and how many chunks were dropped. Stored bytes end in change chunks appended
/// without a parse (issue 22 §1); one Automerge refuses must cost only itself, never the
/// document. Bytes outside the bounds, or whose first chunk does not load, fail as in [`load`].
pub fn load_salvaging(bytes: &[u8]) -> Result<(Automerge, usize), UntrustedError> {
    let whole = match load(bytes) {
        Ok(am) => return Ok((am, 0)),
        Err(e @ UntrustedError::Automerge(_)) => e,
        Err(e) => return Err(e),
    };
    let Some(bounds) = chunk::boundaries(bytes) else {
        return Err(whole);
    };
    let Some((first, rest)) = bounds.split_first() else {
        return Err(whole);
    };
    if rest.is_empty() {
        return Err(whole);
    }
    let mut am = load(&bytes[first.clone()]).map_err(|_| whole)?;
    let mut dropped = 0;
    for range in rest {
        let mut trial = am.clone();
        match load_incremental(&mut trial, &bytes[range.clone()]) {
            Ok(()) => am = trial,
            Err(_) => dropped += 1,
        }
    }
    Ok((am, dropped))
}

/// Checks an encoded Automerge sync message within the protocol's bounds.
pub fn check_sync_message(bytes: &[u8]) -> Result<Budget, UntrustedError> {
    let mut budget = Budget::default();
    sync_message::walk_sync_message(bytes, &mut budget)?;
    Ok(budget)
}

/// Checks, then loads, saved document bytes.
#[allow(clippy::disallowed_methods)] // the one place: checked first
pub fn load(bytes: &[u8]) -> Result<Automerge, UntrustedError> {
    check_saved(bytes)?;
    Automerge::load(bytes).map_err(|e| UntrustedError::Automerge(e.to_string()))
}

/// Checks, then merges, saved document bytes into `am`.
#[allow(clippy::disallowed_methods)] // the one place: checked first
pub fn load_incremental(am: &mut Automerge, bytes: &[u8]) -> Result<(), UntrustedError> {
    check_saved(bytes)?;
    am.load_incremental(bytes)
        .map(|_| ())
        .map_err(|e| UntrustedError::Automerge(e.to_string()))
}

/// Checks, then decodes, an Automerge sync message.
#[allow(clippy::disallowed_methods)] // the one place: checked first
pub fn decode_sync_message(bytes: &[u8]) -> Result<sync::Message, UntrustedError> {
    check_sync_message(bytes)?;
    sync::Message::decode(bytes).map_err(|e| UntrustedError::Automerge(e.to_string()))
}
