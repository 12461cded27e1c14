//! Blob store operations over iroh-blobs: add, query, fetch (resumable), export (HS-BLOB-2).

use std::path::Path;
use std::time::Duration;

use humansync_protocol::BlobHash;
use iroh::endpoint::Connection;
use iroh_blobs::api::remote::GetProgressItem;
use iroh_blobs::store::fs::FsStore;
use n0_future::StreamExt;

use super::convert::{blob_hash, blobs_hash};
use super::error::{BoxError, TransportError};

/// What one [`super::Transport::fetch_blob`] call transferred.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Blob payload bytes received in this call (0 when the blob was already complete).
    pub payload_bytes: u64,
    /// All bytes received, payload plus hash tree (BLAKE3 verified streaming).
    pub total_bytes: u64,
    /// Time the transfer took.
    pub elapsed: Duration,
}

fn store_error(e: impl std::error::Error + Send + Sync + 'static) -> TransportError {
    TransportError::Store(Box::new(e))
}

/// The tag that keeps a blob alive in the store, one per hash (idempotent).
fn tag_name(hash: BlobHash) -> String {
    format!("humansync/blob/{hash}")
}

/// Imports the file at `path` (copied), tags it and syncs the store's database before returning.
pub(crate) async fn add(store: &FsStore, path: &Path) -> Result<BlobHash, TransportError> {
    let path = std::path::absolute(path)?;
    let temp = store
        .blobs()
        .add_path(path)
        .temp_tag()
        .await
        .map_err(store_error)?;
    let hash = blob_hash(temp.hash());
    store
        .tags()
        .set(tag_name(hash), &temp)
        .await
        .map_err(store_error)?;
    store.sync_db().await.map_err(store_error)?;
    Ok(hash)
}

/// True if the whole blob is in the store.
pub(crate) async fn has(store: &FsStore, hash: BlobHash) -> bool {
    store.blobs().has(blobs_hash(hash)).await.unwrap_or(false)
}

/// Fetches the ranges of `hash` missing locally over `conn` (an admitted blobs connection),
/// reporting cumulative payload bytes to `on_progress`. What arrives is kept even if the
/// transfer breaks, so the next fetch resumes (HS-BLOB-2). Tags and syncs on completion.
pub(crate) async fn fetch(
    store: &FsStore,
    conn: Connection,
    hash: BlobHash,
    mut on_progress: impl FnMut(u64) + Send,
) -> Result<FetchStats, BoxError> {
    let mut stream = store.remote().fetch(conn, blobs_hash(hash)).stream();
    let mut result: Option<Result<FetchStats, BoxError>> = None;
    while let Some(item) = stream.next().await {
        match item {
            GetProgressItem::Progress(bytes) => on_progress(bytes),
            GetProgressItem::Done(stats) => {
                result = Some(Ok(FetchStats {
                    payload_bytes: stats.payload_bytes_read,
                    total_bytes: stats.total_bytes_read(),
                    elapsed: stats.elapsed,
                }));
            }
            GetProgressItem::Error(e) => result = Some(Err(Box::new(e))),
        }
    }
    let stats = result.unwrap_or_else(|| Err("fetch ended without a result".into()))?;
    store.tags().set(tag_name(hash), blobs_hash(hash)).await?;
    store.sync_db().await?;
    Ok(stats)
}

/// Copies a complete blob out of the store to `to`.
pub(crate) async fn export(store: &FsStore, hash: BlobHash, to: &Path) -> Result<(), TransportError> {
    if !has(store, hash).await {
        return Err(TransportError::BlobMissing(hash));
    }
    let to = std::path::absolute(to)?;
    store
        .blobs()
        .export(blobs_hash(hash), to)
        .finish()
        .await
        .map_err(store_error)?;
    Ok(())
}
