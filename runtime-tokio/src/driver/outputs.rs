//! Step 3 of the run loop: performing the core's outputs, in order, until it has none
//! (`humansync_sansio::Core::poll_output`).

use humansync_protocol::{BlobHash, CloseCode, DeviceId};
use humansync_sansio::{Event, IoAction, IoResult, IoTask, IoTaskId, Output};

use super::blob_keeper::KeeperOp;
use super::store_worker::DiskTask;
use super::{Driver, Input};
use crate::store::StoreOp;

impl Driver {
    /// Drains the core's outputs (the single-mutation contract).
    pub(super) fn pump(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Transmit { conn, bytes } => {
                    if self.transport.send(conn, bytes).is_err() {
                        // The peer is not draining (queue full) or the connection is gone: close it
                        // for good so the transport reports no second Closed later.
                        let now = self.now();
                        self.transport.close(conn, CloseCode::LIMIT);
                        self.core.handle_connection_closed(now, conn, CloseCode::LIMIT);
                    }
                }
                Output::Close { conn, code } => self.transport.close(conn, code),
                Output::Gate(view) => {
                    let self_revoked = view.self_revoked();
                    self.gate.set(view);
                    if self_revoked {
                        // HS-GATE-5: every connection on every ALPN, blob transfers included.
                        self.transport.disconnect_all(CloseCode::REVOKED);
                    }
                }
                Output::Dial { peer } => self.dialer.dial(peer, &self.transport),
                Output::DisconnectPeer { peer, code } => {
                    self.transport.disconnect_peer(peer, code);
                }
                Output::Io(task) => self.perform(task),
                Output::Event(event) => self.event(event),
                Output::AppDone { id, result } => {
                    if let Some(reply) = self.replies.remove(&id) {
                        let _ = reply.send(result.map_err(super::command::core_error));
                    }
                }
            }
        }
    }

    /// Hands a task to whoever performs it: the blob keeper (releases, in order with keeps), a
    /// fetch task, or — as a [`DiskTask`], the only work it takes — the disk worker. Each answers
    /// on the driver's queue ([`Input::Io`]).
    fn perform(&mut self, task: IoTask) {
        let id = task.id;
        let disk = match task.action {
            IoAction::ReleaseBlob { hash } => {
                self.keeper.submit(KeeperOp::Release { id, hash });
                return;
            }
            IoAction::FetchBlob { hash, from } => {
                self.fetch(id, hash, from);
                return;
            }
            IoAction::LoadDoc { doc } => DiskTask::Load { doc },
            IoAction::SaveDoc {
                doc,
                write,
                meta,
                sync_states,
            } => DiskTask::Write(StoreOp::Save {
                doc,
                write,
                meta,
                sync_states,
            }),
            IoAction::DeleteDoc { doc } => DiskTask::Write(StoreOp::Delete { doc }),
            IoAction::SaveCursors { cursors } => DiskTask::SaveCursors { cursors },
            IoAction::SaveBlobAges { ages } => DiskTask::SaveBlobAges { ages },
        };
        if !self.store.submit(id, disk) {
            let result = IoResult::Failed {
                reason: "store stopped".into(),
            };
            let _ = self.inputs.send(Input::Io { id, result });
        }
    }

    /// Fetches a blob from `from` in a task of its own, answered as task `id`.
    fn fetch(&self, id: IoTaskId, hash: BlobHash, from: DeviceId) {
        let transport = self.transport.clone();
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            // Operators read what a node holds from these lines (the Docker test too); the start
            // line shows how long a fetch waited (soak: attachments late after a heal).
            tracing::info!(%hash, peer = %from, "blob fetch started");
            let result = match transport.fetch_blob(hash, from).await {
                Ok(stats) => {
                    tracing::info!(%hash, peer = %from, bytes = stats.payload_bytes, "blob fetched");
                    IoResult::Done
                }
                Err(e) => {
                    tracing::info!(%hash, peer = %from, error = %e, "blob fetch failed; will retry");
                    IoResult::Failed {
                        reason: e.to_string(),
                    }
                }
            };
            let _ = inputs.send(Input::Io { id, result });
        });
    }

    fn event(&mut self, event: Event) {
        self.note_seen(&event);
        if let Event::DocCorrupt { doc, reason } = &event {
            tracing::warn!(%doc, %reason, "stored document is corrupt: quarantined, recovering from peers");
        }
        let _ = self.events.send(event);
    }
}
