//! The pairing guard's settings and its refusals (HS-PAIR-2).

use humansync_protocol::limits::{
    PAIR_BACKOFF_BASE_MS, PAIR_BACKOFF_MAX_MS, PAIR_FAILURES_BEFORE_BACKOFF, PAIR_LOCKOUT_DURATION_MS,
    PAIR_LOCKOUT_FAILURES, PAIR_LOCKOUT_WINDOW_MS, PAIR_RATE_GLOBAL, PAIR_RATE_PER_SOURCE,
    PAIR_RATE_WINDOW_MS,
};

/// Most sources the guard tracks at once; beyond it the least recently active is forgotten.
pub const MAX_TRACKED_SOURCES: usize = 10_000;

/// Settings of a [`super::PairingGuard`]. [`GuardConfig::default`] takes the
/// protocol's `PAIR_*` limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// Sliding window of the attempt rate limits, ms (at least 1).
    pub rate_window_ms: u64,
    /// Attempts accepted per source within the window.
    pub rate_per_source: u32,
    /// Attempts accepted from all sources together within the window.
    pub rate_global: u32,
    /// Failures from one source before backoff starts.
    pub failures_before_backoff: u32,
    /// First backoff, ms; doubles with every further failure.
    pub backoff_base_ms: u64,
    /// Longest backoff, ms.
    pub backoff_max_ms: u64,
    /// Failures from all sources within `lockout_window_ms` that lock pairing (at least 1).
    pub lockout_failures: u32,
    /// Window over which failures are counted for the lockout, ms.
    pub lockout_window_ms: u64,
    /// How long pairing stays locked, ms.
    pub lockout_duration_ms: u64,
    /// Most sources tracked at once (at least 1).
    pub max_sources: usize,
    /// A source idle this long is forgotten, failure count included. Raised
    /// to at least `rate_window_ms` and `backoff_max_ms` so that forgetting
    /// never lifts a limit still in force.
    pub forget_after_ms: u64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            rate_window_ms: PAIR_RATE_WINDOW_MS,
            rate_per_source: PAIR_RATE_PER_SOURCE,
            rate_global: PAIR_RATE_GLOBAL,
            failures_before_backoff: PAIR_FAILURES_BEFORE_BACKOFF,
            backoff_base_ms: PAIR_BACKOFF_BASE_MS,
            backoff_max_ms: PAIR_BACKOFF_MAX_MS,
            lockout_failures: PAIR_LOCKOUT_FAILURES,
            lockout_window_ms: PAIR_LOCKOUT_WINDOW_MS,
            lockout_duration_ms: PAIR_LOCKOUT_DURATION_MS,
            max_sources: MAX_TRACKED_SOURCES,
            forget_after_ms: 2 * PAIR_BACKOFF_MAX_MS,
        }
    }
}

impl GuardConfig {
    /// The settings with the documented floors applied.
    pub(super) fn normalised(mut self) -> Self {
        // A window of 0 ms would make a refusal ask for no wait at all (Retry-After: 0).
        self.rate_window_ms = self.rate_window_ms.max(1);
        self.lockout_failures = self.lockout_failures.max(1);
        self.max_sources = self.max_sources.max(1);
        self.forget_after_ms = self
            .forget_after_ms
            .max(self.rate_window_ms)
            .max(self.backoff_max_ms);
        self
    }

    /// The backoff after `failures` failures: none without a failure or before
    /// `failures_before_backoff`, then base, doubling, capped (HS-PAIR-2).
    pub fn backoff_ms(&self, failures: u32) -> u64 {
        // A source with no failure (never failed, or succeeded since) is never backed off,
        // even with `failures_before_backoff == 0` (found by the pairing_guard fuzz target).
        if failures == 0 || failures < self.failures_before_backoff {
            return 0;
        }
        let doublings = failures - self.failures_before_backoff;
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        self.backoff_base_ms
            .saturating_mul(factor)
            .min(self.backoff_max_ms)
    }
}

/// Why the guard refused a pairing attempt before the password was checked
/// (HS-PAIR-2). The server answers 429 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Too many attempts within the window, from this source or from all.
    #[error("too many pairing attempts; retry in {retry_after_ms} ms")]
    RateLimited {
        /// Time until an attempt would be accepted, ms.
        retry_after_ms: u64,
    },
    /// This source failed too often and must wait.
    #[error("too many failed pairing attempts from this source; retry in {retry_after_ms} ms")]
    Backoff {
        /// Time until the backoff ends, ms.
        retry_after_ms: u64,
    },
    /// Too many failures overall: pairing is locked for everyone.
    #[error("pairing is locked; retry in {retry_after_ms} ms")]
    LockedOut {
        /// Time until the lockout ends, ms.
        retry_after_ms: u64,
    },
}

impl Refusal {
    /// Time until retrying makes sense, ms.
    pub fn retry_after_ms(&self) -> u64 {
        match *self {
            Refusal::RateLimited { retry_after_ms }
            | Refusal::Backoff { retry_after_ms }
            | Refusal::LockedOut { retry_after_ms } => retry_after_ms,
        }
    }

    /// The `Retry-After` header value: whole seconds, rounded up (HS-HTTP-2).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_ms().div_ceil(1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_failure_means_no_backoff() {
        // HS-PAIR-2: backoff follows failures; with none there is nothing to back off from.
        let config = GuardConfig {
            failures_before_backoff: 0,
            backoff_base_ms: 1_000,
            ..GuardConfig::default()
        };
        assert_eq!(config.backoff_ms(0), 0);
        assert_eq!(config.backoff_ms(1), 2_000);
        assert_eq!(GuardConfig::default().backoff_ms(0), 0);
        assert_eq!(
            GuardConfig::default().backoff_ms(PAIR_FAILURES_BEFORE_BACKOFF),
            PAIR_BACKOFF_BASE_MS
        );
    }
}
