//! Waiting for a condition in tests and benchmarks.

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 50 ms until it returns true; panics naming `what` after `secs` seconds,
/// also when a check itself has not returned by then (a call that hangs fails the test instead
/// of holding it for ever).
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, check()).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(_) => panic!("timed out after {secs} s waiting for: {what} (the last check did not return)"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {secs} s waiting for: {what}");
}
