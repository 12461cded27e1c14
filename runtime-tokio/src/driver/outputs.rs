//! Step 3 of the run loop: performing the core's outputs, in order, until it has none
//! (`humansync_sansio::Core::poll_output`).

use humansync_protocol::CloseCode;
use humansync_sansio::{Event, IoAction, IoResult, IoTask, Output};

use super::blob_keeper::KeeperOp;
use super::{Driver, Input};

impl Driver {
    /// Drains the core's outputs (the single-mutation contract).
    pub(super) fn pump(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Transmit { conn, bytes } => {
                    self.totals.bytes_out += bytes.len() as u64;
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
                Output::Dial { peer } => {
                    self.totals.dials_started += 1;
                    self.dialer.dial(peer, &self.transport);
                }
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

    /// Hands a task to whoever performs it: the disk worker, the blob keeper, or a fetch task.
    /// Each answers on the driver's queue ([`Input::Io`]).
    fn perform(&mut self, task: IoTask) {
        let id = task.id;
        match task.action {
            IoAction::ReleaseBlob { hash } => self.keeper.submit(KeeperOp::Release { id, hash }),
            IoAction::FetchBlob { hash, from } => {
                let transport = self.transport.clone();
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    // Operators read what a node holds from these lines (the Docker test too).
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
            IoAction::LoadDoc { .. }
            | IoAction::SaveDoc { .. }
            | IoAction::DeleteDoc { .. }
            | IoAction::SaveCursors { .. }
            | IoAction::SaveBlobAges { .. } => {
                if !self.store.submit(task) {
                    let result = IoResult::Failed {
                        reason: "store stopped".into(),
                    };
                    let _ = self.inputs.send(Input::Io { id, result });
                }
            }
        }
    }

    fn event(&mut self, event: Event) {
        self.note_seen(&event);
        self.count(&event);
        if let Event::DocCorrupt { doc, reason } = &event {
            tracing::warn!(%doc, %reason, "stored document is corrupt: quarantined, recovering from peers");
        }
        let _ = self.events.send(event);
    }

    /// Counts what [`crate::NodeStats::totals`] reports.
    fn count(&mut self, event: &Event) {
        let t = &mut self.totals;
        match event {
            Event::PeerConnected(_) => t.sessions_opened += 1,
            Event::Reconciled(_) => t.sync_exchanges += 1,
            Event::DocChanged {
                origin: humansync_sansio::Origin::Remote(_),
                ..
            }
            | Event::DocDeleted {
                origin: humansync_sansio::Origin::Remote(_),
                ..
            } => t.remote_changes += 1,
            Event::DocCorrupt { .. } => t.quarantines += 1,
            Event::BlobArrived(_) => t.blobs_arrived += 1,
            Event::DeviceRevoked(_) => t.devices_revoked += 1,
            _ => {}
        }
    }
}
