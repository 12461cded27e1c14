//! Blob store operations over iroh-blobs: add, query, fetch (resumable), export (HS-BLOB-2),
//! keep, release and pin (HS-BLOB-4).
//!
//! A blob the node holds is kept by a tag `humansync/blob/<hash>`, a pinned one by a tag
//! `humansync/pin/<hash>`. With [`super::BlobGc`] the store's own garbage collection deletes,
//! at each sweep, every blob that has neither tag and is not in the keep set the core gives
//! (referenced blobs, partial ones included so that an interrupted fetch resumes).

use std::path::Path;
use std::time::Duration;

use humansync_protocol::BlobHash;
use iroh::endpoint::Connection;
use iroh_blobs::api::Store;
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

/// Prefix of the tags that keep held blobs.
const HELD_PREFIX: &str = "humansync/blob/";
/// Prefix of the tags that keep pinned blobs.
const PIN_PREFIX: &str = "humansync/pin/";

/// The tag that keeps a blob alive in the store, one per hash (idempotent).
fn tag_name(hash: BlobHash) -> String {
    format!("{HELD_PREFIX}{hash}")
}

/// Opens (or creates) the store under `dir`, with its garbage collection when `gc` is given:
/// the sealed store (sealed_blobs/, HS-REST-6) under `key`, else iroh-blobs' plain `FsStore`.
pub(crate) async fn open(
    dir: &Path,
    key: Option<&crate::keys::DataKey>,
    gc: Option<super::BlobGc>,
) -> Result<Store, TransportError> {
    if let Some(key) = key {
        return super::sealed_blobs::open(dir, key, gc)
            .await
            .map_err(|e| TransportError::Store(Box::new(e)));
    }
    let Some(gc) = gc else {
        return FsStore::load(dir)
            .await
            .map(Store::from)
            .map_err(|e| TransportError::Store(e.into()));
    };
    let keep = gc.keep.clone();
    let protect: iroh_blobs::store::ProtectCb = std::sync::Arc::new(move |live| {
        let keep = keep.clone();
        Box::pin(async move {
            match keep().await {
                Some(hashes) => {
                    live.extend(hashes.into_iter().map(blobs_hash));
                    iroh_blobs::store::ProtectOutcome::Continue
                }
                None => iroh_blobs::store::ProtectOutcome::Abort,
            }
        })
    });
    let mut options = iroh_blobs::store::fs::options::Options::new(dir);
    options.gc = Some(iroh_blobs::store::GcConfig {
        interval: gc.interval,
        add_protected: Some(protect),
    });
    FsStore::load_with_opts(dir.join("blobs.db"), options)
        .await
        .map(Store::from)
        .map_err(|e| TransportError::Store(e.into()))
}

/// Tags a blob as held and syncs the store's database.
pub(crate) async fn keep(store: &Store, hash: BlobHash) -> Result<(), TransportError> {
    store
        .tags()
        .set(tag_name(hash), blobs_hash(hash))
        .await
        .map_err(store_error)?;
    store.sync_db().await.map_err(store_error)
}

/// Removes a blob's held tag and syncs; returns its size if it was complete.
pub(crate) async fn release(store: &Store, hash: BlobHash) -> Result<Option<u64>, TransportError> {
    let size = size(store, hash).await;
    store.tags().delete(tag_name(hash)).await.map_err(store_error)?;
    store.sync_db().await.map_err(store_error)?;
    Ok(size)
}

/// Sets or removes a blob's pin tag and syncs.
pub(crate) async fn pin(store: &Store, hash: BlobHash, pin: bool) -> Result<(), TransportError> {
    let name = format!("{PIN_PREFIX}{hash}");
    if pin {
        store
            .tags()
            .set(name, blobs_hash(hash))
            .await
            .map_err(store_error)?;
    } else {
        store.tags().delete(name).await.map_err(store_error)?;
    }
    store.sync_db().await.map_err(store_error)
}

/// The hashes of the tags with `prefix`.
async fn tagged(store: &Store, prefix: &str) -> Result<Vec<BlobHash>, TransportError> {
    let mut stream = store.tags().list_prefix(prefix).await.map_err(store_error)?;
    let mut out = Vec::new();
    while let Some(info) = stream.next().await {
        out.push(blob_hash(info.map_err(store_error)?.hash));
    }
    Ok(out)
}

/// The held (tagged) blobs and the pinned ones.
pub(crate) async fn kept(store: &Store) -> Result<(Vec<BlobHash>, Vec<BlobHash>), TransportError> {
    Ok((
        tagged(store, HELD_PREFIX).await?,
        tagged(store, PIN_PREFIX).await?,
    ))
}

/// The size of a complete blob.
pub(crate) async fn size(store: &Store, hash: BlobHash) -> Option<u64> {
    match store.blobs().status(blobs_hash(hash)).await {
        Ok(iroh_blobs::api::blobs::BlobStatus::Complete { size }) => Some(size),
        _ => None,
    }
}

/// How much of a blob the store holds: verified bytes present, the size if known, complete.
pub(crate) async fn progress(store: &Store, hash: BlobHash) -> Result<crate::BlobProgress, TransportError> {
    let bitfield = store
        .blobs()
        .observe(blobs_hash(hash))
        .await
        .map_err(store_error)?;
    let complete = bitfield.is_complete();
    Ok(crate::BlobProgress {
        received: bitfield.total_bytes(),
        size: bitfield.validated_size(),
        complete,
    })
}

/// Every blob entry in the store, complete or partial.
pub(crate) async fn list(store: &Store) -> Result<Vec<BlobHash>, TransportError> {
    let hashes = store.blobs().list().hashes().await.map_err(store_error)?;
    Ok(hashes.into_iter().map(blob_hash).collect())
}

/// Imports the file at `path` (copied), tags it and syncs the store's database before returning.
/// The temp tag returned keeps the blob from any sweep for as long as the caller holds it.
pub(crate) async fn add(
    store: &Store,
    path: &Path,
) -> Result<(BlobHash, iroh_blobs::api::TempTag), TransportError> {
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
    Ok((hash, temp))
}

/// True if the whole blob is in the store.
pub(crate) async fn has(store: &Store, hash: BlobHash) -> bool {
    store.blobs().has(blobs_hash(hash)).await.unwrap_or(false)
}

/// Fetches the ranges of `hash` missing locally over `conn` (an admitted blobs connection),
/// reporting cumulative payload bytes to `on_progress`. What arrives is kept even if the
/// transfer breaks, so the next fetch resumes (HS-BLOB-2). Tags and syncs on completion.
pub(crate) async fn fetch(
    store: &Store,
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
pub(crate) async fn export(store: &Store, hash: BlobHash, to: &Path) -> Result<(), TransportError> {
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
