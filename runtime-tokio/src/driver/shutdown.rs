//! The driver's shutdown: every step bounded and all of them within one budget
//! ([`NODE_SHUTDOWN_BUDGET`]), a step that did not finish in time named in the log, so that
//! `Node::shutdown` (and the server's shutdown above it) always returns in time.

use std::time::Duration;

use humansync_protocol::CloseCode;
use humansync_sansio::ConnId;

use super::Driver;
use crate::ShutdownBudget;

/// The whole of a node's shutdown, within Docker's default 10 s stop grace with room for the
/// server's own steps around it.
const NODE_SHUTDOWN_BUDGET: Duration = Duration::from_secs(8);
/// The longest the final checkpoint may take (everything acknowledged is durable without it).
const CHECKPOINT_LIMIT: Duration = Duration::from_secs(2);
/// The longest the transport may take to close (its own steps are bounded within this).
const TRANSPORT_LIMIT: Duration = Duration::from_secs(5);

impl Driver {
    /// Closes every session, checkpoints the store, stops the transport and then the store
    /// (releasing its lock), then answers the shutdown command.
    pub(super) async fn shutdown(mut self) {
        let budget = ShutdownBudget::new(NODE_SHUTDOWN_BUDGET);
        let now = self.now();
        let conns: Vec<ConnId> = self.core.status().peers.iter().map(|p| p.conn).collect();
        for conn in conns {
            self.core.close(now, conn, CloseCode::SHUTDOWN);
        }
        self.pump();
        // Everything acknowledged is already durable; a checkpoint makes the next start cheap.
        budget
            .step("store checkpoint", CHECKPOINT_LIMIT, self.store.checkpoint())
            .await;
        let Driver {
            store,
            transport,
            shutting_down,
            ..
        } = self;
        // Shut down even if a dial or blob task still holds the transport: they fail fast then.
        budget
            .step("transport", TRANSPORT_LIMIT, transport.shutdown())
            .await;
        // Then stop the disk worker (it closes the store and releases its lock) before
        // answering, so that the same storage can be opened again as soon as shutdown returns.
        // The store's lock goes last: while it is held, the blob store is not free either.
        let closing = tokio::task::spawn_blocking(move || drop(store));
        budget
            .step("store close", NODE_SHUTDOWN_BUDGET, async {
                let _ = closing.await;
            })
            .await;
        if let Some(reply) = shutting_down {
            let _ = reply.send(Ok(()));
        }
    }
}
