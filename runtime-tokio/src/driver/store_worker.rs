//! The disk worker: a dedicated thread owning the [`DocStore`], batching writes so that a burst of
//! saves costs one durable sync (HS-SYNC-8: a save is answered only once it is on disk).
//!
//! It takes disk work only, by type: the core's disk tasks as [`DiskTask`] (the driver routes
//! blob fetches and releases elsewhere, `outputs.rs`), answered on the driver's queue, and the
//! node's own writes to the store it owns — the last-seen file (`super::last_seen`) and the
//! shutdown checkpoint — which answer nobody in the core.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use humansync_protocol::{BlobHash, Cursor, DeviceId, DocId};
use humansync_sansio::{IoResult, IoTaskId};
use tokio::sync::mpsc;

use super::Input;
use crate::error::DISK_FULL_REASON;
use crate::store::{DocStore, StoreError, StoreOp};

/// Where the worker answers: the driver's queue.
struct Answers(mpsc::UnboundedSender<Input>);

impl Answers {
    /// Answers task `id`; fails only once the driver is gone.
    fn send(&self, (id, result): (IoTaskId, IoResult)) -> Result<(), ()> {
        self.0.send(Input::Io { id, result }).map_err(|_| ())
    }
}

/// Handle to the worker thread.
pub(crate) struct StoreWorker {
    tx: std_mpsc::Sender<Job>,
    /// Durable batches applied (for [`crate::NodeStats::store_batches`]).
    batches: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A disk task of the core (`humansync_sansio::IoAction`'s disk variants), as the driver routes
/// it here: answered as task `id` with an [`IoResult`].
pub(crate) enum DiskTask {
    /// `IoAction::LoadDoc`.
    Load { doc: DocId },
    /// `IoAction::SaveDoc` or `IoAction::DeleteDoc`: consecutive ones become one durable batch.
    Write(StoreOp),
    /// `IoAction::SaveCursors`.
    SaveCursors { cursors: Vec<(DeviceId, Cursor)> },
    /// `IoAction::SaveBlobAges` (ages in ms, HS-BLOB-4).
    SaveBlobAges { ages: Vec<(BlobHash, u64)> },
}

enum Job {
    /// A disk task of the core, answered as task `.0`.
    Task(IoTaskId, DiskTask),
    /// Replace the last-seen file (`crate::store::DocStore::save_last_seen`); the node's own.
    SaveLastSeen(Vec<(DeviceId, u64)>),
    /// Flush and checkpoint (shutdown); resolves the sender when done.
    Checkpoint(tokio::sync::oneshot::Sender<()>),
}

impl StoreWorker {
    /// Starts the worker; results arrive on the driver's queue as [`Input::Io`].
    pub(crate) fn start(store: DocStore, results: mpsc::UnboundedSender<Input>) -> Self {
        let (tx, rx) = std_mpsc::channel();
        let batches = Arc::new(AtomicU64::new(0));
        let counter = batches.clone();
        let thread = std::thread::Builder::new()
            .name("humansync-store".into())
            .spawn(move || run(store, rx, Answers(results), &counter))
            .ok();
        StoreWorker { tx, batches, thread }
    }

    /// Durable write batches applied since start.
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Queues a disk task of the core; false once the worker has stopped.
    pub(crate) fn submit(&self, id: IoTaskId, task: DiskTask) -> bool {
        self.tx.send(Job::Task(id, task)).is_ok()
    }

    /// Queues a rewrite of the last-seen file; a failure is logged (it only feeds a display).
    pub(crate) fn save_last_seen(&self, seen: Vec<(DeviceId, u64)>) {
        let _ = self.tx.send(Job::SaveLastSeen(seen));
    }

    /// Flushes and checkpoints; resolves when done.
    pub(crate) async fn checkpoint(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Job::Checkpoint(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

impl Drop for StoreWorker {
    fn drop(&mut self) {
        // Closing the channel ends the thread after it drains what it has.
        let (tx, _) = std_mpsc::channel();
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How often loads that failed with a local fault, and writes a full disk refused to the
/// document files, are tried again.
const LOAD_RETRY: Duration = Duration::from_secs(1);

/// A load's answer for the core, `None` after a local fault (a read error: the disk's fault,
/// not the document's): the load is then tried again later instead of being answered `Failed`,
/// which the core would take for a corrupt document and quarantine.
fn load(store: &DocStore, doc: &DocId) -> Option<IoResult> {
    match store.load(doc) {
        Ok(Some((bytes, sync_states))) => Some(IoResult::Loaded { bytes, sync_states }),
        Ok(None) => Some(IoResult::NotFound),
        Err(e) if e.doc_fault().is_some() => Some(IoResult::Failed {
            reason: e.to_string(),
        }),
        Err(e) => {
            tracing::warn!(%doc, error = %e, "loading a document failed (a local fault): retried");
            None
        }
    }
}

/// The core's answer for a failed write; a full disk is marked for the driver.
fn failed(e: &StoreError) -> IoResult {
    let reason = if e.is_disk_full() {
        format!("{DISK_FULL_REASON}{e}")
    } else {
        e.to_string()
    };
    IoResult::Failed { reason }
}

fn run(mut store: DocStore, rx: std_mpsc::Receiver<Job>, results: Answers, batches: &AtomicU64) {
    let mut retries: Vec<(IoTaskId, DocId)> = Vec::new();
    let mut last_retry = Instant::now();
    loop {
        // Work that waits for the disk: loads to retry, files behind the log (a full disk).
        let waiting = !retries.is_empty() || store.is_behind();
        let first = if !waiting {
            rx.recv().ok()
        } else {
            match rx.recv_timeout(LOAD_RETRY) {
                Ok(job) => Some(job),
                Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
            }
        };
        if first.is_none() && !waiting {
            break;
        }
        if waiting && last_retry.elapsed() >= LOAD_RETRY {
            last_retry = Instant::now();
            if let Err(e) = store.catch_up() {
                tracing::debug!("store still behind its log: {e}");
            }
            for (id, doc) in std::mem::take(&mut retries) {
                match load(&store, &doc) {
                    Some(result) => drop(results.send((id, result))),
                    None => retries.push((id, doc)),
                }
            }
        }
        // Take everything queued right now: consecutive writes become one durable batch.
        let mut jobs: Vec<Job> = first.into_iter().collect();
        while let Ok(job) = rx.try_recv() {
            jobs.push(job);
        }
        let mut batch: Vec<(IoTaskId, StoreOp)> = Vec::new();
        for job in jobs {
            match job {
                Job::Task(id, DiskTask::Write(op)) => batch.push((id, op)),
                Job::Task(id, DiskTask::Load { doc }) => {
                    flush(&mut store, &mut batch, &results, batches);
                    if let Some(result) = load(&store, &doc) {
                        let _ = results.send((id, result));
                    } else {
                        retries.push((id, doc));
                    }
                }
                Job::Task(id, DiskTask::SaveCursors { cursors }) => {
                    flush(&mut store, &mut batch, &results, batches);
                    let result = match store.save_cursors(&cursors) {
                        Ok(()) => IoResult::Done,
                        Err(e) => {
                            tracing::warn!("saving cursors failed: {e}");
                            failed(&e)
                        }
                    };
                    let _ = results.send((id, result));
                }
                Job::Task(id, DiskTask::SaveBlobAges { ages }) => {
                    flush(&mut store, &mut batch, &results, batches);
                    // HS-BLOB-4: ages become wall-clock times, so that the time the node is
                    // down counts towards the grace period.
                    let now = crate::store::wall_ms();
                    let since: Vec<_> = ages
                        .iter()
                        .map(|(h, age)| (*h, now.saturating_sub(*age)))
                        .collect();
                    let result = match store.save_blob_unreferenced_since(&since) {
                        Ok(()) => IoResult::Done,
                        Err(e) => {
                            tracing::warn!("saving blob ages failed: {e}");
                            failed(&e)
                        }
                    };
                    let _ = results.send((id, result));
                }
                Job::SaveLastSeen(seen) => {
                    if let Err(e) = store.save_last_seen(&seen) {
                        tracing::warn!("saving last-seen times failed: {e}");
                    }
                }
                Job::Checkpoint(done) => {
                    flush(&mut store, &mut batch, &results, batches);
                    if let Err(e) = store.checkpoint() {
                        tracing::warn!("store checkpoint failed: {e}");
                    }
                    let _ = done.send(());
                }
            }
        }
        flush(&mut store, &mut batch, &results, batches);
    }
    if let Err(e) = store.checkpoint() {
        tracing::warn!("store checkpoint at exit failed: {e}");
    }
}

fn flush(store: &mut DocStore, batch: &mut Vec<(IoTaskId, StoreOp)>, results: &Answers, batches: &AtomicU64) {
    if batch.is_empty() {
        return;
    }
    batches.fetch_add(1, Ordering::Relaxed);
    let (ids, ops): (Vec<IoTaskId>, Vec<StoreOp>) = std::mem::take(batch).into_iter().unzip();
    let result = match store.apply(&ops) {
        Ok(()) => IoResult::Done,
        Err(e) => {
            // Nothing of the batch was logged: it did not happen (DocStore::apply).
            tracing::error!("store write failed: {e}");
            failed(&e)
        }
    };
    for id in ids {
        let _ = results.send((id, result.clone()));
    }
}
