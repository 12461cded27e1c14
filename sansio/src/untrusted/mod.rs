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
