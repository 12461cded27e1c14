//! One time budget for a whole shutdown, shared by its steps.
//!
//! A process asked to stop (SIGTERM, `docker stop`) gets a grace period before it is killed —
//! Docker's default is 10 s — so a graceful shutdown must end within one total bound, not within
//! the sum of each step's own limit. Every step waits at most the smaller of its own limit and
//! what is left of the budget; a step that did not finish in time is named in the log and not
//! waited for. Everything acknowledged is durable before a shutdown starts (HS-SYNC-8), so a
//! step given up on costs a slower next start at most, never data.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// The deadline a shutdown's steps share (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct ShutdownBudget {
    deadline: Instant,
}

impl ShutdownBudget {
    /// A budget of `total` from now.
    pub fn new(total: Duration) -> ShutdownBudget {
        ShutdownBudget {
            deadline: Instant::now() + total,
        }
    }

    /// What is left of the budget (zero once it is spent).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs `fut` for at most `limit` or what is left of the budget, whichever is less;
    /// `None`, with a warning naming `step`, when it did not finish in that time.
    pub async fn step<T>(
        &self,
        step: &'static str,
        limit: Duration,
        fut: impl Future<Output = T>,
    ) -> Option<T> {
        let limit = limit.min(self.remaining());
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

    /// Waits for `task` like [`ShutdownBudget::step`], aborting it when it did not finish in time.
    pub async fn join(&self, step: &'static str, limit: Duration, task: tokio::task::JoinHandle<()>) {
        let abort = task.abort_handle();
        if self.step(step, limit, task).await.is_none() {
            abort.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Steps that never finish share the budget: three stuck steps of 5 s each under a 6 s budget
    // end after 6 s of (paused, virtual) time, not 15.
    #[tokio::test(start_paused = true)]
    async fn stuck_steps_share_one_budget() {
        let budget = ShutdownBudget::new(Duration::from_secs(6));
        let start = Instant::now();
        for name in ["one", "two", "three"] {
            assert_eq!(
                budget
                    .step(name, Duration::from_secs(5), std::future::pending::<()>())
                    .await,
                None
            );
        }
        assert_eq!(start.elapsed(), Duration::from_secs(6));
        assert_eq!(budget.remaining(), Duration::ZERO);
    }

    // A step that finishes in time returns its value; a stuck task is aborted.
    #[tokio::test(start_paused = true)]
    async fn a_stuck_task_is_aborted() {
        let budget = ShutdownBudget::new(Duration::from_secs(1));
        assert_eq!(
            budget.step("quick", Duration::from_secs(1), async { 7 }).await,
            Some(7)
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _keep = tx;
            std::future::pending::<()>().await;
        });
        budget.join("stuck task", Duration::from_secs(5), task).await;
        // Aborting the task dropped its end of the channel.
        assert!(rx.await.is_err());
    }
}
