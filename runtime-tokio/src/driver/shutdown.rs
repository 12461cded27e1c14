//! The driver's shutdown: every step bounded, and a step that did not finish in time named in
//! the log, so that `Node::shutdown` (and the server's shutdown above it) always returns.

use std::future::Future;
use std::time::Duration;

use humansync_protocol::CloseCode;
use humansync_sansio::ConnId;

use super::Driver;

/// The longest the final checkpoint may take (everything acknowledged is durable without it).
const CHECKPOINT_LIMIT: Duration = Duration::from_secs(5);
/// The longest the transport may take to close (its own steps are bounded within this).
const TRANSPORT_LIMIT: Duration = Duration::from_secs(8);
/// The longest closing the store (releasing its lock) may take.
const STORE_LIMIT: Duration = Duration::from_secs(5);

/// Runs `fut` for at most `limit`; false (with a warning naming `step`) if it did not finish.
async fn bounded(step: &'static str, limit: Duration, fut: impl Future<Output = ()>) -> bool {
    let started = std::time::Instant::now();
    if tokio::time::timeout(limit, fut).await.is_err() {
        tracing::warn!(
            step,
            ?limit,
            "shutdown step did not finish in time; not waiting for it"
        );
        return false;
    }
    let took = started.elapsed();
    if took > Duration::from_millis(500) {
        tracing::info!(step, ?took, "shutdown step was slow");
    }
    true
}

impl Driver {
    /// Closes every session, checkpoints the store, stops the transport and then the store
    /// (releasing its lock), then answers the shutdown command.
    pub(super) async fn shutdown(mut self) {
        let now = self.now();
        let conns: Vec<ConnId> = self.core.status().peers.iter().map(|p| p.conn).collect();
        for conn in conns {
            self.core.close(now, conn, CloseCode::SHUTDOWN);
        }
        self.pump();
        // Everything acknowledged is already durable; a checkpoint makes the next start cheap.
        bounded("store checkpoint", CHECKPOINT_LIMIT, self.store.checkpoint()).await;
        let Driver {
            store,
            transport,
            shutting_down,
            ..
        } = self;
        // Shut down even if a dial or blob task still holds the transport: they fail fast then.
        bounded("transport", TRANSPORT_LIMIT, transport.shutdown()).await;
        // Then stop the disk worker (it closes the store and releases its lock) before
        // answering, so that the same storage can be opened again as soon as shutdown returns.
        // The store's lock goes last: while it is held, the blob store is not free either.
        let closing = tokio::task::spawn_blocking(move || drop(store));
        bounded("store close", STORE_LIMIT, async {
            let _ = closing.await;
        })
        .await;
        if let Some(reply) = shutting_down {
            let _ = reply.send(Ok(()));
        }
    }
}
