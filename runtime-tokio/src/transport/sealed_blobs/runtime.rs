//! The store's own tokio runtime, as iroh-blobs' `FsStore` has (HS-REST-6).
//!
//! Every store operation is synchronous work — sealing and opening chunk groups, BLAKE3
//! verification of what is served, `pread`/`pwrite`, and the syncs of `persist` — done directly
//! inside the store's tasks. On the caller's runtime that work ran on the threads that also
//! drive QUIC, so a transfer's network and disk halves took turns; on a runtime of its own the
//! OS overlaps them, and a sync never stalls the caller (BENCHMARKS.md, "Sealed blobs").
//!
//! One thread named `hs-sealed-blobs` runs the actor; imports and exports run on the runtime's
//! workers. The runtime ends when the actor does (a shutdown, or every handle gone): its tasks
//! are dropped with it, as they were when the actor's `JoinSet` dropped.

use std::path::Path;

use super::actor::Actor;
use super::error::SealedBlobError;

/// At most this many worker threads per store (fewer on a machine with fewer cores).
const MAX_WORKERS: usize = 4;

/// Runs `actor` on a runtime of its own, on a thread of its own, until it ends.
pub(crate) fn spawn(actor: Actor, dir: &Path) -> Result<(), SealedBlobError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("hs-sealed-blobs-worker")
        .enable_time()
        .build()
        .map_err(|e| SealedBlobError::io("start a runtime for", dir, e))?;
    std::thread::Builder::new()
        .name("hs-sealed-blobs".to_owned())
        .spawn(move || {
            runtime.block_on(actor.run());
            // Tasks still running (an export a peer stopped reading) are dropped, not awaited.
            runtime.shutdown_background();
        })
        .map_err(|e| SealedBlobError::io("start a thread for", dir, e))?;
    Ok(())
}
