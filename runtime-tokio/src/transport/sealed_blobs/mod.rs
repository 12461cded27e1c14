//! The sealed blob store (issue 21, HS-REST-6): blob bytes encrypted at rest, still served by
//! their BLAKE3 hash over iroh with the wire format unchanged, and resumed by range.
//!
//! It is a store actor of its own answering iroh-blobs' store protocol
//! (`iroh_blobs::api::proto::Command`, actor.rs), so the rest of the node — fetching, serving
//! (`BlobsProtocol`), tags, the sweep — uses the same `iroh_blobs::api::Store` as with
//! iroh-blobs' `FsStore`. Per blob it keeps:
//!
//! - the plain BLAKE3 outboard (outboard.rs): hashes only, which every range served is verified
//!   against on the way out;
//! - the data as fixed-size sealed chunk groups (groups.rs): 16 KiB, one iroh-blobs block,
//!   AES-256-GCM with the `blob-bytes` subkey, bound to the blob's hash and the group's index;
//! - a sealed state record of the groups present (state.rs), what a resumed fetch asks for the
//!   rest of;
//!
//! plus the tags, sealed (tags.rs), and a key check (files.rs). Entry directories are named by
//! BLAKE3 keyed with the `file-names` subkey (cipher.rs).
//!
//! ```text
//!  peer ──bao stream──▶ iroh-blobs verifies ──▶ import::bao ──seal──▶ WriteBatch ──pwrite──▶ data slots
//!                                                          └─hash pairs─▶ outboard
//!  every 64 MiB, at the end, at sync_db: sync the outboard, then replace `state`
//!  (the data file is left to the OS: a group a power cut loses fails to open, fetched again)
//!
//!  peer ◀──bao stream── traverse_ranges_validated ◀── outboard
//!                                   ▲
//!                        ReadAhead (one pread per run of groups, each opened in place;
//!                        a failure falls back to Entry::read_group, which drops group i)
//! ```
//!
//! The actor and its imports and exports run on the store's own runtime (runtime.rs), off the
//! threads that drive QUIC, as iroh-blobs' `FsStore` does.
//!
//! Crash safety: small files are replaced whole (write, sync, rename, sync the directory); the
//! state names only groups already written and an outboard already synced, so after a kill -9 a
//! blob is whole, or partial and fetched on, never wrong; after a power cut a fetched group the
//! disk lost fails authentication and is fetched again (blobs added locally are synced). A group that fails authentication (tampered, swapped, another key)
//! is a [`SealedBlobError::Tampered`] naming the file; it is dropped from the state and the
//! blob is fetched again from a peer; it is never served. A store opened with another key is
//! refused ([`SealedBlobError::WrongKey`]) before anything is read.

mod actor;
mod cipher;
mod entry;
mod error;
mod export;
mod files;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod gc;
mod groups;
mod import;
pub mod migrate;
mod outboard;
mod read_ahead;
mod runtime;
mod state;
mod tags;
mod write_batch;

pub use error::SealedBlobError;

use std::path::Path;
use std::sync::Arc;

use iroh_blobs::api::Store;
use iroh_blobs::store::mem::MemStore;

use super::BlobGc;
use crate::keys::DataKey;

/// Opens (or creates) the sealed blob store in `dir` under `key`, with its sweep when `gc` is
/// given. Fails with [`SealedBlobError::WrongKey`] when the store was sealed with another key.
pub async fn open(dir: &Path, key: &DataKey, gc: Option<BlobGc>) -> Result<Store, SealedBlobError> {
    let (store, _) = open_with_commands(dir, key, gc).await?;
    Ok(store)
}

/// [`open`], also returning the actor's command channel (the sweep and tests send the
/// commands iroh-blobs' API keeps to itself, such as deletes).
pub(crate) async fn open_with_commands(
    dir: &Path,
    key: &DataKey,
    gc: Option<BlobGc>,
) -> Result<(Store, tokio::sync::mpsc::Sender<iroh_blobs::api::proto::Command>), SealedBlobError> {
    let cipher = Arc::new(cipher::BlobCipher::new(key)?);
    let (tx, rx) = tokio::sync::mpsc::channel(32);
    let layout = files::Layout::new(dir);
    let actor = tokio::task::spawn_blocking(move || actor::Actor::open(layout, cipher, rx))
        .await
        .map_err(|e| SealedBlobError::io("open", dir, std::io::Error::other(e)))??;
    runtime::spawn(actor, dir)?;
    let store: Store = MemStore::from_sender(tx.clone().into()).into();
    if let Some(gc) = gc {
        tokio::spawn(gc::run(store.clone(), tx.clone(), gc));
    }
    Ok((store, tx))
}

#[cfg(test)]
mod tests;
