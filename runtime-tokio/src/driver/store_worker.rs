//! The disk worker: a dedicated thread owning the [`DocStore`], batching writes so that a burst of
//! saves costs one durable sync (HS-SYNC-8: a save is answered only once it is on disk).

use std::sync::mpsc as std_mpsc;

use humansync_sansio::{IoAction, IoResult, IoTask, IoTaskId};
use tokio::sync::mpsc;

use super::Input;
use crate::store::{DocStore, StoreOp};

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
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(crate) enum Job {
    Task(IoTask),
    /// Replace the last-seen file (`crate::store::DocStore::save_last_seen`).
    SaveLastSeen(Vec<(humansync_protocol::DeviceId, u64)>),
    Checkpoint(tokio::sync::oneshot::Sender<()>),
}

impl StoreWorker {
    /// Starts the worker; results arrive on the driver's queue as [`Input::Io`].
    pub(crate) fn start(store: DocStore, results: mpsc::UnboundedSender<Input>) -> Self {
        let (tx, rx) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("humansync-store".into())
            .spawn(move || run(store, rx, Answers(results)))
            .ok();
        StoreWorker { tx, thread }
    }

    /// Queues a document task (LoadDoc, SaveDoc, DeleteDoc).
    pub(crate) fn submit(&self, task: IoTask) -> bool {
        self.tx.send(Job::Task(task)).is_ok()
    }

    /// Queues a rewrite of the last-seen file; a failure is logged (it only feeds a display).
    pub(crate) fn save_last_seen(&self, seen: Vec<(humansync_protocol::DeviceId, u64)>) {
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

fn run(mut store: DocStore, rx: std_mpsc::Receiver<Job>, results: Answers) {
    while let Ok(first) = rx.recv() {
        // Take everything queued right now: consecutive writes become one durable batch.
        let mut jobs = vec![first];
        while let Ok(job) = rx.try_recv() {
            jobs.push(job);
        }
        let mut batch: Vec<(IoTaskId, StoreOp)> = Vec::new();
        for job in jobs {
            match job {
                Job::Task(IoTask { id, action }) => match action {
                    IoAction::SaveDoc {
                        doc,
                        write,
                        meta,
                        sync_states,
                    } => {
                        batch.push((
                            id,
                            StoreOp::Save {
                                doc,
                                write,
                                meta,
                                sync_states,
                            },
                        ));
                    }
                    IoAction::DeleteDoc { doc } => batch.push((id, StoreOp::Delete { doc })),
                    IoAction::LoadDoc { doc } => {
                        flush(&mut store, &mut batch, &results);
                        let result = match store.load(&doc) {
                            Ok(Some((bytes, sync_states))) => IoResult::Loaded { bytes, sync_states },
                            Ok(None) => IoResult::NotFound,
                            Err(e) => IoResult::Failed {
                                reason: e.to_string(),
                            },
                        };
                        let _ = results.send((id, result));
                    }
                    IoAction::SaveCursors { cursors } => {
                        flush(&mut store, &mut batch, &results);
                        let result = match store.save_cursors(&cursors) {
                            Ok(()) => IoResult::Done,
                            Err(e) => {
                                tracing::warn!("saving cursors failed: {e}");
                                IoResult::Failed {
                                    reason: e.to_string(),
                                }
                            }
                        };
                        let _ = results.send((id, result));
                    }
                    IoAction::SaveBlobAges { ages } => {
                        flush(&mut store, &mut batch, &results);
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
                                IoResult::Failed {
                                    reason: e.to_string(),
                                }
                            }
                        };
                        let _ = results.send((id, result));
                    }
                    IoAction::FetchBlob { .. } | IoAction::ReleaseBlob { .. } => {
                        let _ = results.send((
                            id,
                            IoResult::Failed {
                                reason: "not a disk task".into(),
                            },
                        ));
                    }
                },
                Job::SaveLastSeen(seen) => {
                    if let Err(e) = store.save_last_seen(&seen) {
                        tracing::warn!("saving last-seen times failed: {e}");
                    }
                }
                Job::Checkpoint(done) => {
                    flush(&mut store, &mut batch, &results);
                    if let Err(e) = store.checkpoint() {
                        tracing::warn!("store checkpoint failed: {e}");
                    }
                    let _ = done.send(());
                }
            }
        }
        flush(&mut store, &mut batch, &results);
    }
    if let Err(e) = store.checkpoint() {
        tracing::warn!("store checkpoint at exit failed: {e}");
    }
}

fn flush(store: &mut DocStore, batch: &mut Vec<(IoTaskId, StoreOp)>, results: &Answers) {
    if batch.is_empty() {
        return;
    }
    let (ids, ops): (Vec<IoTaskId>, Vec<StoreOp>) = std::mem::take(batch).into_iter().unzip();
    let result = match store.apply(&ops) {
        Ok(()) => IoResult::Done,
        Err(e) => {
            tracing::error!("store write failed: {e}");
            IoResult::Failed {
                reason: e.to_string(),
            }
        }
    };
    for id in ids {
        let _ = results.send((id, result.clone()));
    }
}
