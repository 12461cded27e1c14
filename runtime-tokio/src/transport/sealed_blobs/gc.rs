//! The sealed store's sweep (HS-BLOB-4), with the semantics of iroh-blobs' own garbage
//! collection: every interval, clear the protected set, mark as live every tagged and
//! temp-tagged blob and every blob the keep set names, then delete every other blob — except
//! those written since the mark (protected by the actor).

use std::collections::HashSet;

use iroh_blobs::Hash;
use iroh_blobs::api::Store;
use iroh_blobs::api::proto::{BlobDeleteRequest, ClearProtectedRequest, Command};
use irpc::channel::oneshot;
use n0_future::StreamExt;

use crate::transport::BlobGc;
use crate::transport::convert::blobs_hash;

/// Sweeps every `gc.interval` until the store shuts down.
pub(crate) async fn run(store: Store, commands: tokio::sync::mpsc::Sender<Command>, gc: BlobGc) {
    loop {
        tokio::time::sleep(gc.interval).await;
        if commands.is_closed() {
            return;
        }
        match sweep(&store, &commands, &gc).await {
            Ok(Some(deleted)) => tracing::debug!(deleted, "sealed blob store swept"),
            Ok(None) => tracing::debug!("blob sweep skipped (the node is going away)"),
            Err(e) if commands.is_closed() => {
                tracing::debug!(error = %e, "blob sweep ended with the store");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "blob sweep failed; tried again at the next interval"),
        }
    }
}

/// One sweep; the number of blobs deleted, `None` when the keep set asked to skip it.
pub(crate) async fn sweep(
    store: &Store,
    commands: &tokio::sync::mpsc::Sender<Command>,
    gc: &BlobGc,
) -> Result<Option<usize>, Box<dyn std::error::Error + Send + Sync>> {
    let (tx, rx) = oneshot::channel();
    commands
        .send(Command::ClearProtected((ClearProtectedRequest, tx).into()))
        .await?;
    rx.await??;
    let Some(keep) = (gc.keep)().await else {
        return Ok(None);
    };
    let mut live: HashSet<Hash> = keep.into_iter().map(blobs_hash).collect();
    let mut tags = store.tags().list().await?;
    while let Some(tag) = tags.next().await {
        live.insert(tag?.hash);
    }
    let mut temp = store.tags().list_temp_tags().await?;
    while let Some(value) = temp.next().await {
        live.insert(value.hash);
    }
    let dead: Vec<Hash> = store
        .blobs()
        .list()
        .hashes()
        .await?
        .into_iter()
        .filter(|h| !live.contains(h))
        .collect();
    let count = dead.len();
    delete(commands, dead, false).await?;
    store.sync_db().await?;
    Ok(Some(count))
}

/// Deletes `hashes` (those protected since the last mark only with `force`).
pub(crate) async fn delete(
    commands: &tokio::sync::mpsc::Sender<Command>,
    hashes: Vec<Hash>,
    force: bool,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if hashes.is_empty() {
        return Ok(());
    }
    let (tx, rx) = oneshot::channel();
    commands
        .send(Command::DeleteBlobs(
            (BlobDeleteRequest { hashes, force }, tx).into(),
        ))
        .await?;
    rx.await??;
    Ok(())
}
