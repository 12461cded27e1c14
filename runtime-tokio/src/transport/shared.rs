//! State shared by the [`super::Transport`] handle, the sync protocol handler and the session tasks.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::NetEvent;
use super::gate::Gate;
use super::table::Table;

/// Shared by everything the transport spawns. Holds no `Endpoint` (the hooks hold a table clone).
#[derive(Debug)]
pub(crate) struct Shared {
    /// The admission gate (HS-GATE-2).
    pub(crate) gate: Gate,
    /// Live connections.
    pub(crate) table: Table,
    /// Where session events go.
    pub(crate) events: mpsc::Sender<NetEvent>,
    /// Session tasks, so that shutdown can wait for their Closed events.
    tasks: Mutex<JoinSet<()>>,
}

impl Shared {
    /// New shared state.
    pub(crate) fn new(gate: Gate, table: Table, events: mpsc::Sender<NetEvent>) -> Self {
        Shared {
            gate,
            table,
            events,
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// Spawns a session task, reaping finished ones.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // The set is only touched under this lock by spawn and drain; a panic elsewhere cannot corrupt it.
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Waits up to `grace` for session tasks to end, then aborts the rest.
    pub(crate) async fn drain(&self, grace: Duration) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}
