//! Re-encrypting the node's blobs (HS-REST-5): a plain `FsStore` migrated into the sealed store,
//! the sealed store re-sealed under a new key, or decrypted back into an `FsStore` — one
//! crash-safe procedure, the document store's COMMIT pattern (store/rekey.rs):
//!
//! 1. Every blob of the source store (complete, or the whole groups of a partial one) is piped
//!    as a verified bao stream, with every tag, into a new store under the new key in
//!    `<storage>/blobs-rekey/store`; both stores are synced and closed.
//! 2. **Commit**: `blobs-rekey/COMMIT` (naming the source and target directories) is written,
//!    synced and renamed into place. Before it, the source is untouched and an interrupted run
//!    is undone at the next [`settle`] (the staging is deleted).
//! 3. Roll forward: the old target directory (if any) is removed, the staged store renamed into
//!    place, the source directory removed, then the staging. Every step can run again, so a
//!    [`settle`] that finds `COMMIT` rolls forward again.
//!
//! Where it runs: [`settle`] at every start before the blob store opens (it also finishes a
//! device key rotation a kill interrupted: the blob store is brought under the key the
//! document store opened with, from any other candidate key), and from `rotate_device_key` /
//! `rekey_storage`.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use bao_tree::ChunkRanges;
use bao_tree::io::mixed::EncodedItem;
use bao_tree::io::{BaoContentItem, full_chunk_groups};
use iroh_blobs::api::Store;
use iroh_blobs::store::fs::FsStore;
use n0_future::StreamExt;

use super::error::SealedBlobError;
use super::files;
use crate::keys::DataKey;

/// The plain `FsStore` directory under the storage directory.
pub const PLAIN_DIR: &str = "blobs";
/// The sealed store directory under the storage directory.
pub const SEALED_DIR: &str = "blobs-sealed";
/// The staging directory of a re-encryption.
const STAGING_DIR: &str = "blobs-rekey";
/// The commit marker inside the staging directory.
const COMMIT: &str = "COMMIT";

/// What [`settle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobRekeyReport {
    /// Blobs copied into the new store (complete or partial).
    pub blobs: usize,
    /// Tags copied.
    pub tags: usize,
    /// True when an interrupted re-encryption was rolled forward.
    pub rolled_forward: bool,
}

/// The directory the node's blob store lives in: sealed under a key, else plain.
pub fn store_dir(storage: &Path, sealed: bool) -> PathBuf {
    storage.join(if sealed { SEALED_DIR } else { PLAIN_DIR })
}

/// Brings the blob store under `storage` under `target` (`None`: a plain `FsStore`), finishing
/// or undoing an interrupted re-encryption first. A sealed store under another key is
/// re-sealed when that key is among `candidates`, else refused with
/// [`SealedBlobError::WrongKey`]. Blocking: runs the stores on a runtime of its own thread.
pub fn settle(
    storage: &Path,
    candidates: &[DataKey],
    target: Option<&DataKey>,
) -> Result<BlobRekeyReport, SealedBlobError> {
    let storage = storage.to_path_buf();
    let candidates = candidates.to_vec();
    let target = target.cloned();
    std::thread::scope(|s| {
        s.spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| SealedBlobError::io("start a runtime for", &storage, e))?;
            runtime.block_on(settle_async(&storage, &candidates, target.as_ref()))
        })
        .join()
        .unwrap_or_else(|_| {
            Err(SealedBlobError::malformed(
                "blob re-encryption",
                "the thread panicked",
            ))
        })
    })
}

async fn settle_async(
    storage: &Path,
    candidates: &[DataKey],
    target: Option<&DataKey>,
) -> Result<BlobRekeyReport, SealedBlobError> {
    let mut report = BlobRekeyReport {
        rolled_forward: recover(storage)?,
        ..Default::default()
    };
    let sealed = storage.join(SEALED_DIR);
    let plain = storage.join(PLAIN_DIR);
    let sealed_key = files::read_key_id(&files::Layout::new(&sealed))?;
    let source: Option<Source> = match (sealed_key, target) {
        (Some(found), Some(key)) if found == key.id() => None,
        (Some(found), _) => {
            let key =
                candidates
                    .iter()
                    .find(|k| k.id() == found)
                    .ok_or_else(|| SealedBlobError::WrongKey {
                        path: files::Layout::new(&sealed).keycheck,
                        found: found.to_string(),
                        given: target.map_or_else(|| "none".to_owned(), |k| k.id().to_string()),
                    })?;
            Some(Source::Sealed(key.clone()))
        }
        (None, Some(_)) if plain.join("blobs.db").exists() => Some(Source::Plain),
        (None, _) => None,
    };
    let Some(source) = source else {
        return Ok(report);
    };
    let copied = rekey(storage, &source, target).await?;
    report.blobs = copied.blobs;
    report.tags = copied.tags;
    Ok(report)
}

/// Where the blobs come from.
enum Source {
    /// The plain `FsStore`.
    Plain,
    /// The sealed store under this key.
    Sealed(DataKey),
}

async fn open(dir: &Path, key: Option<&DataKey>) -> Result<Store, SealedBlobError> {
    match key {
        Some(key) => super::open(dir, key, None).await,
        None => {
            std::fs::create_dir_all(dir).map_err(|e| SealedBlobError::io("create", dir, e))?;
            let store = FsStore::load(dir)
                .await
                .map_err(|e| SealedBlobError::io("open", dir, std::io::Error::other(e)))?;
            Ok(store.into())
        }
    }
}

/// Steps 1 to 3 of the module docs.
async fn rekey(
    storage: &Path,
    source: &Source,
    target: Option<&DataKey>,
) -> Result<BlobRekeyReport, SealedBlobError> {
    let staging = storage.join(STAGING_DIR);
    files::remove_dir(&staging)?;
    std::fs::create_dir_all(&staging).map_err(|e| SealedBlobError::io("create", &staging, e))?;
    let (from_dir, from_key) = match source {
        Source::Plain => (PLAIN_DIR, None),
        Source::Sealed(key) => (SEALED_DIR, Some(key)),
    };
    let to_dir = if target.is_some() { SEALED_DIR } else { PLAIN_DIR };
    tracing::warn!(from = from_dir, to = to_dir, "re-encrypting the blob store");
    let from = open(&storage.join(from_dir), from_key).await?;
    let to = open(&staging.join("store"), target).await?;
    let copied = copy(&from, &to).await;
    let closed = (to.sync_db().await, to.shutdown().await, from.shutdown().await);
    let report = copied?;
    closed
        .0
        .map_err(|e| SealedBlobError::io("sync", staging.join("store"), std::io::Error::other(e)))?;
    files::sync_tree(&staging)?;
    let marker = format!("{from_dir}\n{to_dir}\n");
    files::replace(&staging.join(COMMIT), marker.as_bytes())?;
    roll_forward(storage)?;
    Ok(report)
}

/// Copies every blob and tag of `from` into `to`.
async fn copy(from: &Store, to: &Store) -> Result<BlobRekeyReport, SealedBlobError> {
    let fail = |what: &'static str, e: &dyn std::fmt::Display| {
        SealedBlobError::io(what, "blob store", std::io::Error::other(e.to_string()))
    };
    let mut report = BlobRekeyReport::default();
    let hashes = from.blobs().list().hashes().await.map_err(|e| fail("list", &e))?;
    for hash in hashes {
        let bitfield = from
            .blobs()
            .observe(hash)
            .await
            .map_err(|e| fail("observe", &e))?;
        let ranges = if bitfield.is_complete() {
            ChunkRanges::all()
        } else {
            full_chunk_groups(&bitfield.ranges, iroh_blobs::store::IROH_BLOCK_SIZE)
        };
        if ranges.is_empty() {
            continue;
        }
        let mut stream = std::pin::pin!(from.blobs().export_bao(hash, ranges).stream());
        let mut handle = None;
        while let Some(item) = stream.next().await {
            let content = match item {
                EncodedItem::Size(size) => {
                    let Some(size) = NonZeroU64::new(size) else { break };
                    handle = Some(
                        to.blobs()
                            .import_bao(hash, size, 32)
                            .await
                            .map_err(|e| fail("import", &e))?,
                    );
                    continue;
                }
                EncodedItem::Parent(p) => BaoContentItem::Parent(p),
                EncodedItem::Leaf(l) => BaoContentItem::Leaf(l),
                EncodedItem::Done => break,
                EncodedItem::Error(e) => {
                    // A group that fails authentication is not copied: fetched again later.
                    tracing::warn!(blob = %hash.fmt_short(), error = %e, "blob copied partly");
                    break;
                }
            };
            if let Some(handle) = handle.as_mut() {
                handle.tx.send(content).await.map_err(|e| fail("import", &e))?;
            }
        }
        if let Some(handle) = handle {
            drop(handle.tx);
            handle
                .rx
                .await
                .map_err(|e| fail("import", &e))?
                .map_err(|e| fail("import", &e))?;
            report.blobs += 1;
        }
    }
    let mut tags = from.tags().list().await.map_err(|e| fail("list tags", &e))?;
    while let Some(tag) = tags.next().await {
        let tag = tag.map_err(|e| fail("list tags", &e))?;
        to.tags()
            .set(tag.name.clone(), tag.hash_and_format())
            .await
            .map_err(|e| fail("set tag", &e))?;
        report.tags += 1;
    }
    Ok(report)
}

/// At start: rolls a committed re-encryption forward (true), or deletes the staging of one that
/// never committed.
fn recover(storage: &Path) -> Result<bool, SealedBlobError> {
    let staging = storage.join(STAGING_DIR);
    if files::read_bounded(&staging.join(COMMIT), 64)?.is_some() {
        tracing::warn!(dir = %storage.display(), "finishing an interrupted blob re-encryption");
        roll_forward(storage)?;
        return Ok(true);
    }
    if staging.exists() {
        tracing::warn!(dir = %storage.display(), "undoing an interrupted blob re-encryption");
        files::remove_dir(&staging)?;
    }
    Ok(false)
}

/// The source and target directory names in the commit marker `bytes`, read from `path`
/// (named in errors): two lines, each `blobs` or `blobs-sealed`.
pub(crate) fn parse_commit(
    path: &Path,
    bytes: &[u8],
) -> Result<(&'static str, &'static str), SealedBlobError> {
    let marker = String::from_utf8_lossy(bytes);
    let mut lines = marker.lines();
    let known = |name: Option<&str>| match name {
        Some(PLAIN_DIR) => Ok(PLAIN_DIR),
        Some(SEALED_DIR) => Ok(SEALED_DIR),
        _ => Err(SealedBlobError::malformed(
            path,
            "not a blob re-encryption marker",
        )),
    };
    Ok((known(lines.next())?, known(lines.next())?))
}

/// Step 3; idempotent.
fn roll_forward(storage: &Path) -> Result<(), SealedBlobError> {
    let staging = storage.join(STAGING_DIR);
    let commit = staging.join(COMMIT);
    let marker = files::read_bounded(&commit, 64)?.unwrap_or_default();
    let (from, to) = parse_commit(&commit, &marker)?;
    let staged = staging.join("store");
    if staged.exists() {
        files::remove_dir(&storage.join(to))?;
        std::fs::rename(&staged, storage.join(to))
            .map_err(|e| SealedBlobError::io("rename onto", storage.join(to), e))?;
        files::sync_dir(storage)?;
    }
    if from != to {
        files::remove_dir(&storage.join(from))?;
    }
    files::remove_file(&commit)?;
    files::remove_dir(&staging)?;
    files::sync_dir(storage)
}
