//! Bounded shutdown steps: each step waits at most its limit, and one that did not finish in
//! time is named in the log (and its task aborted), so that `RunningServer::shutdown` always
//! returns and the log says which step held it.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// Runs `fut` for at most `limit`; `None` (with a warning naming `step`) if it did not finish.
pub(crate) async fn step<T>(step: &'static str, limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let started = Instant::now();
    match tokio::time::timeout(limit, fut).await {
        Ok(value) => {
            let took = started.elapsed();
            if took > Duration::from_millis(500) {
                tracing::info!(step, ?took, "shutdown step was slow");
            } else {
                tracing::debug!(step, ?took, "shutdown step done");
            }
            Some(value)
        }
        Err(_) => {
            tracing::warn!(
                step,
                ?limit,
                "shutdown step did not finish in time; not waiting for it"
            );
            None
        }
    }
}

/// Waits for a task like [`step`], aborting it if it did not finish in time.
pub(crate) async fn join(name: &'static str, limit: Duration, task: JoinHandle<()>) {
    let abort = task.abort_handle();
    if step(name, limit, task).await.is_none() {
        abort.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A step that never finishes is given up on (and its task aborted) instead of holding the
    // shutdown; a step that finishes returns its value.
    #[tokio::test]
    async fn a_stuck_step_is_not_waited_for() {
        let limit = Duration::from_millis(20);
        assert_eq!(step("stuck", limit, std::future::pending::<()>()).await, None);
        assert_eq!(step("quick", limit, async { 7 }).await, Some(7));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _keep = tx;
            std::future::pending::<()>().await;
        });
        join("stuck task", limit, task).await;
        // Aborting the task dropped its end of the channel.
        assert!(rx.await.is_err());
    }
}
