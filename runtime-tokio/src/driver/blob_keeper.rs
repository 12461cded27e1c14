//! The blob keeper: one task that applies the core's retention decisions to the blob store —
//! keep (tag), release (untag), pin and unpin — in exactly the order the driver made them
//! (HS-BLOB-4: "releases and keeps of one blob take effect in the order the core asked").
//!
//! Tags are what protects a blob from the store's sweep, so an out-of-order release (untag)
//! after a keep would lose a blob the core believes held. One queue, one task, no reordering.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use humansync_protocol::BlobHash;
use humansync_sansio::{IoResult, IoTaskId};
use tokio::sync::mpsc;

use super::{Input, Reply};
use crate::Error;
use crate::transport::Transport;

/// One decision to apply to the blob store.
pub(crate) enum KeeperOp {
    /// Tag a blob the core now holds; `hold` (the import's temp tag) is dropped once tagged.
    Keep {
        hash: BlobHash,
        hold: Option<iroh_blobs::api::TempTag>,
    },
    /// Untag a blob the core released; answered to the core as task `id`.
    Release { id: IoTaskId, hash: BlobHash },
    /// Pin or unpin a blob for the app.
    Pin {
        hash: BlobHash,
        pin: bool,
        reply: Reply<()>,
    },
}

/// Counters of what the keeper released since start.
#[derive(Debug, Default)]
pub(crate) struct Released {
    /// Blobs untagged (their bytes go at the next sweep).
    pub(crate) blobs: AtomicU64,
    /// Their sizes.
    pub(crate) bytes: AtomicU64,
}

/// Handle to the keeper task; dropping it ends the task after the queued operations.
pub(crate) struct BlobKeeper {
    tx: mpsc::UnboundedSender<KeeperOp>,
    pub(crate) released: Arc<Released>,
}

impl BlobKeeper {
    /// Starts the keeper; release results go to `results` like any other I/O result.
    pub(crate) fn start(transport: Arc<Transport>, results: mpsc::UnboundedSender<Input>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let released = Arc::new(Released::default());
        let counters = released.clone();
        tokio::spawn(async move {
            while let Some(op) = rx.recv().await {
                match op {
                    KeeperOp::Keep { hash, hold } => {
                        if let Err(e) = transport.keep_blob(hash).await {
                            tracing::warn!(%hash, error = %e, "could not tag a held blob");
                        }
                        drop(hold);
                    }
                    KeeperOp::Release { id, hash } => {
                        let result = match transport.release_blob(hash).await {
                            Ok(size) => {
                                counters.blobs.fetch_add(1, Ordering::Relaxed);
                                counters.bytes.fetch_add(size.unwrap_or(0), Ordering::Relaxed);
                                // Operators read what a node deletes from these lines.
                                tracing::info!(%hash, bytes = size.unwrap_or(0), "blob released: no live document references it");
                                IoResult::Done
                            }
                            Err(e) => {
                                tracing::warn!(%hash, error = %e, "could not release a blob; kept");
                                IoResult::Failed {
                                    reason: e.to_string(),
                                }
                            }
                        };
                        let _ = results.send(Input::Io { id, result });
                    }
                    KeeperOp::Pin { hash, pin, reply } => {
                        let result = transport
                            .pin_blob(hash, pin)
                            .await
                            .map_err(|e| Error::Storage(e.to_string()));
                        let _ = reply.send(result);
                    }
                }
            }
        });
        BlobKeeper { tx, released }
    }

    /// Queues an operation behind those already queued.
    pub(crate) fn submit(&self, op: KeeperOp) {
        if let Err(mpsc::error::SendError(op)) = self.tx.send(op) {
            // The task ended (shutdown): the store is closing; answer what waits for an answer.
            match op {
                KeeperOp::Pin { reply, .. } => drop(reply.send(Err(Error::Shutdown))),
                KeeperOp::Keep { .. } | KeeperOp::Release { .. } => {}
            }
        }
    }
}
