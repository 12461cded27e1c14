//! The blob store, opened again when its database stops (issue 20). The same for the sealed
//! store (sealed_blobs/), whose actor stops only with the node.
//!
//! iroh-blobs' `Store` runs its metadata database in an actor that ends for good when a
//! commit fails — on a full disk, for one — and every later call then fails with an rpc error:
//! without this, only a restart brought blobs back. Every call goes through
//! [`BlobStore::get`]; after a failed call, [`BlobStore::revive`] asks the database for a sync,
//! and when that gets no answer (the actor is gone), closes the old store and opens the
//! directory again, and the call is made once more on the new store. Serving peers goes through
//! [`BlobsHandler`], which takes the current store for every connection.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use iroh_blobs::BlobsProtocol;
use iroh_blobs::api::RequestError;
use iroh_blobs::api::Store;
use iroh_blobs::provider::events::EventSender;

use super::BlobGc;
use super::error::TransportError;

/// The current blob store and how to open it again.
#[derive(Debug)]
pub(crate) struct BlobStore {
    /// The store and its generation (how many times it was opened again).
    current: RwLock<(u64, Store)>,
    dir: PathBuf,
    /// The data key of a sealed store (HS-REST-6), `None` for a plain one.
    key: Option<crate::keys::DataKey>,
    gc: Option<BlobGc>,
    /// One re-open at a time.
    reopening: tokio::sync::Mutex<()>,
}

impl BlobStore {
    /// Opens (or creates) the store under `dir`.
    pub(crate) async fn open(
        dir: PathBuf,
        key: Option<crate::keys::DataKey>,
        gc: Option<BlobGc>,
    ) -> Result<BlobStore, TransportError> {
        let store = super::blobs::open(&dir, key.as_ref(), gc.clone()).await?;
        Ok(BlobStore {
            current: RwLock::new((0, store)),
            dir,
            key,
            gc,
            reopening: tokio::sync::Mutex::new(()),
        })
    }

    /// The store to make a call on now.
    pub(crate) fn get(&self) -> Store {
        self.current().1
    }

    fn current(&self) -> (u64, Store) {
        // A panic while holding the lock cannot leave the handle half-written.
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// After a failed call on the store of generation `failed`: [`Revive::Reopened`] when that
    /// store had stopped and a new one is open (make the call again), [`Revive::Alive`] when it
    /// works (the call's own error stands), [`Revive::Failed`] when opening it again failed
    /// (tried again after the next failure).
    pub(crate) async fn revive(&self, failed: u64) -> Revive {
        let _one = self.reopening.lock().await;
        let (generation, current) = self.current();
        if generation != failed {
            // Another call opened it again meanwhile.
            return Revive::Reopened;
        }
        if !matches!(current.sync_db().await, Err(RequestError::Rpc { .. })) {
            return Revive::Alive;
        }
        tracing::warn!(dir = %self.dir.display(), "the blob store stopped (its database failed, see the log above); opening it again");
        // Its database is gone: this only ends the store's own tasks.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), current.shutdown()).await;
        match super::blobs::open(&self.dir, self.key.as_ref(), self.gc.clone()).await {
            Ok(store) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = (generation + 1, store);
                tracing::info!("blob store open again");
                Revive::Reopened
            }
            Err(e) => {
                tracing::warn!(error = %e, "opening the blob store again failed; tried again at the next call");
                Revive::Failed(e)
            }
        }
    }

    /// Opens the store again if it stopped (after a failed call whose error is handled
    /// elsewhere, e.g. a fetch the core retries).
    pub(crate) async fn revive_if_stopped(&self) {
        let generation = self.current().0;
        let _ = self.revive(generation).await;
    }

    /// Runs `call` on the current store; when it fails because the store had stopped, opens it
    /// again and runs `call` once more, so that its error names the cause (a full disk).
    /// `needed` is about how many bytes of disk the call writes (0 when unknown or little): a
    /// store that stopped on a file system with less than that left, plus headroom for its
    /// database, is reported as a full disk (see [`BlobStore::name_the_cause`]).
    pub(crate) async fn call<T, F, Fut>(&self, needed: u64, call: F) -> Result<T, TransportError>
    where
        F: Fn(Store) -> Fut,
        Fut: std::future::Future<Output = Result<T, TransportError>>,
    {
        let (generation, store) = self.current();
        let first = match call(store).await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let stopped = match self.revive(generation).await {
            // The store works: the call's own error stands.
            Revive::Alive => return Err(first),
            // Opening it failed, e.g. on a full disk: that is the cause to report.
            Revive::Failed(open) => clearer(first, open),
            Revive::Reopened => {
                let (generation, store) = self.current();
                let second = match call(store).await {
                    Ok(value) => return Ok(value),
                    Err(e) => e,
                };
                match self.revive(generation).await {
                    // Stopped again, and opening it names the cause.
                    Revive::Failed(open) => clearer(second, open),
                    _ => second,
                }
            }
        };
        Err(self.name_the_cause(stopped, needed))
    }

    /// The error of a call during which the store stopped. iroh-blobs drops the cause when its
    /// database dies on a failed commit ("rpc error: Oneshot recv error"); when the file system
    /// holding the store has less than `needed` bytes plus [`DATABASE_HEADROOM`] left, the cause
    /// is a full disk, and the error says so (a soak finding: an attach on a disk with a few
    /// KiB left was answered with the bare rpc error).
    fn name_the_cause(&self, e: TransportError, needed: u64) -> TransportError {
        if e.is_disk_full() {
            return e;
        }
        let Some(free) = free_bytes(&self.dir) else {
            return e;
        };
        if free >= needed.saturating_add(DATABASE_HEADROOM) {
            return e;
        }
        TransportError::Io(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!(
                "no space left on device: the blob store under {} stopped with {free} bytes free ({needed} needed): {e}",
                self.dir.display()
            ),
        ))
    }
}

/// Free space below which a blob store whose database stopped is taken to have stopped for a full
/// disk: a commit writes a few pages of its database file.
const DATABASE_HEADROOM: u64 = 1 << 20;

/// The bytes an unprivileged writer may still allocate on the file system holding `dir`.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// `call`'s error, unless opening the store again failed for a full disk, which names the cause.
fn clearer(call: TransportError, open: TransportError) -> TransportError {
    if open.is_disk_full() { open } else { call }
}

/// What [`BlobStore::revive`] did.
#[derive(Debug)]
pub(crate) enum Revive {
    /// The store had stopped; a new one is open.
    Reopened,
    /// The store works.
    Alive,
    /// The store had stopped and opening it again failed.
    Failed(TransportError),
}

/// Serves the blobs ALPN from whichever store is current.
#[derive(Debug, Clone)]
pub(crate) struct BlobsHandler {
    pub(crate) store: Arc<BlobStore>,
    pub(crate) events: EventSender,
}

impl ProtocolHandler for BlobsHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        BlobsProtocol::new(&self.store.get(), Some(self.events.clone()))
            .accept(conn)
            .await
    }

    async fn shutdown(&self) {
        // The transport shuts the current store down itself, once.
    }
}
