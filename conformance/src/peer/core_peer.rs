//! The runner's own sync peer for the convergence checks: the reference sans-I/O [`Core`] on
//! the shared [`Host`] (the simulation's: core, in-memory disk, disk tasks answered from it),
//! driven over a real iroh session to the node under test. The reference core is only the
//! runner's side; what is checked is what the node sends back.

use humansync_protocol::{CloseCode, DeviceId, DocId, SignedRecord};
use humansync_sansio::testing::Host;
use humansync_sansio::{ConnId, Core, Instant, IoResult, IoTask, Output, Role};
use tokio::time::Instant as Clock;

use super::wire::{Ending, Wire};

/// Silence the runner waits for once its core reports the session up to date: the node MAY
/// send its DocWant after its final Reconcile (HS-RECON-10), so "up to date" on the dialer's
/// side does not yet mean the node has asked for everything it lacks.
const QUIET: std::time::Duration = std::time::Duration::from_millis(500);

/// Why a session of the runner's core ended before it was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionError {
    /// The node closed the connection with this code.
    ClosedByNode(CloseCode, String),
    /// Anything else (refused by our own view, deadline, transport error), described.
    Other(String),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::ClosedByNode(_, what) | SessionError::Other(what) => f.write_str(what),
        }
    }
}

/// A reference core with its store and clock.
pub(crate) struct CorePeer {
    host: Host,
    start: Clock,
    next_conn: u64,
}

impl CorePeer {
    /// A core for `me` that trusts `anchor` and holds `records` (verified by the core itself).
    pub(crate) fn new(me: DeviceId, anchor: DeviceId, records: &[SignedRecord]) -> Result<CorePeer, String> {
        // `me` is a fresh key per run, so the actor id and log epoch `boot` derives from it
        // are fresh too.
        let mut host = Host::new("runner", me);
        host.anchor = Some(anchor);
        host.boot(Instant(0)).map_err(|e| e.to_string())?;
        let mut peer = CorePeer {
            host,
            start: Clock::now(),
            next_conn: 0,
        };
        let now = peer.now();
        for record in records {
            // Records the core refuses (bad signature, another anchor) are ignored, as HS-REG-3 says.
            let _ = peer.core_mut().add_registry_record(now, record);
        }
        peer.drain_local();
        Ok(peer)
    }

    /// The core (to read documents, digests and status).
    pub(crate) fn core(&self) -> &Core {
        // Started in `new` and never crashed: the runner's core runs for the peer's lifetime.
        self.host.core.as_ref().expect("the runner's core is up")
    }

    fn core_mut(&mut self) -> &mut Core {
        // As in `core`.
        self.host.core.as_mut().expect("the runner's core is up")
    }

    fn now(&self) -> Instant {
        Instant(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Creates `doc` with one field `key` = `value` (stored at once in memory).
    pub(crate) fn create_doc(&mut self, doc: &DocId, key: &str, value: &str) -> Result<(), String> {
        use automerge::transaction::Transactable;
        let now = self.now();
        self.core_mut().open(now, doc, true).map_err(|e| e.to_string())?;
        let (result, _) = self
            .core_mut()
            .change(now, doc, |am| {
                let mut tx = am.transaction();
                tx.put(automerge::ROOT, "_schema_version", 1_u64)?;
                tx.put(automerge::ROOT, key, value)?;
                tx.commit();
                Ok::<(), automerge::AutomergeError>(())
            })
            .map_err(|e| e.to_string())?;
        result.map_err(|e| e.to_string())?;
        self.drain_local();
        Ok(())
    }

    /// Runs one session over `wire` (we dialled the node, so we send Hello) until `done`
    /// holds, the node closes, or `deadline`. Closes the session with CLOSE_NORMAL when done.
    pub(crate) async fn session(
        &mut self,
        node: DeviceId,
        mut wire: Wire,
        deadline: Clock,
        done: impl Fn(&Core) -> bool,
    ) -> Result<(), SessionError> {
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        let now = self.now();
        if let humansync_sansio::gate::Admission::Reject(code) =
            self.core_mut().handle_connection(now, conn, node, Role::Dialer)
        {
            return Err(SessionError::Other(format!(
                "the runner's own registry view does not admit the node ({})",
                code.name()
            )));
        }
        // Set once `done` holds: the session ends after QUIET without bytes from the node.
        let mut quiet_until: Option<Clock> = None;
        loop {
            if let Some(code) = self.pump(&mut wire).await {
                return Err(SessionError::Other(format!(
                    "the runner's core closed the session with {}",
                    code.name()
                )));
            }
            if done(self.core()) {
                let until = *quiet_until.get_or_insert_with(|| Clock::now() + QUIET);
                if Clock::now() >= until {
                    let now = self.now();
                    self.core_mut().close(now, conn, CloseCode::NORMAL);
                    let _ = self.pump(&mut wire).await;
                    // Frames still queued (a DocWhole answering the node's DocWant) must arrive.
                    wire.finish(deadline).await;
                    wire.close(CloseCode::NORMAL);
                    return Ok(());
                }
            } else {
                quiet_until = None;
            }
            let mut wake = self
                .core()
                .poll_timeout()
                .map(|t| self.start + std::time::Duration::from_millis(t.0))
                .map_or(deadline, |t| t.min(deadline));
            if let Some(until) = quiet_until {
                wake = wake.min(until);
            }
            let read = wire.read_raw(wake).await;
            let now = self.now();
            match read {
                Ok(bytes) => {
                    quiet_until = None;
                    self.core_mut().handle_bytes(now, conn, &bytes);
                }
                Err(Ending::StillOpen) if Clock::now() >= deadline => {
                    return Err(SessionError::Other(format!(
                        "not converged before the deadline: {}",
                        self.core().describe_session(conn)
                    )));
                }
                Err(Ending::StillOpen) if quiet_until.is_some_and(|u| Clock::now() >= u) => {}
                Err(Ending::StillOpen) => self.core_mut().handle_timeout(now),
                Err(end) => {
                    let what = format!("the node ended the session: {end}");
                    return Err(match end {
                        Ending::Closed(code) => {
                            self.core_mut().handle_connection_closed(now, conn, code);
                            SessionError::ClosedByNode(code, what)
                        }
                        _ => {
                            self.core_mut()
                                .handle_connection_closed(now, conn, CloseCode::INTERNAL);
                            SessionError::Other(what)
                        }
                    });
                }
            }
        }
    }

    /// Drains outputs: I/O is answered from the in-memory store, frames are written to the
    /// wire. Returns the close code if the core closed the session.
    async fn pump(&mut self, wire: &mut Wire) -> Option<CloseCode> {
        let mut closed = None;
        while let Some(output) = self.core_mut().poll_output() {
            match output {
                Output::Transmit { bytes, .. } => wire.send_raw(&bytes).await,
                Output::Close { code, .. } | Output::DisconnectPeer { code, .. } => {
                    wire.close(code);
                    closed = Some(code);
                }
                Output::Io(task) => self.answer(task),
                // The runner makes no app requests (it changes its documents directly).
                Output::Event(_) | Output::AppDone { .. } => {}
                // Connection policy: nothing to dial or gate here.
                Output::Dial { .. } | Output::Gate(_) => {}
            }
        }
        closed
    }

    /// Drains outputs when no session is open (only I/O can be pending).
    fn drain_local(&mut self) {
        while let Some(output) = self.core_mut().poll_output() {
            if let Output::Io(task) = output {
                self.answer(task);
            }
        }
    }

    /// Answers a disk task at once from the host's in-memory disk.
    fn answer(&mut self, task: IoTask) {
        let result = self.host.disk(&task.action).unwrap_or_else(|| IoResult::Failed {
            reason: "the conformance runner does not fetch blobs through its core".into(),
        });
        let now = self.now();
        self.core_mut().handle_io_result(now, task.id, result);
    }
}
