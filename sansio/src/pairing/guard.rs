//! The brute-force guard in front of the pairing password check (HS-PAIR-2).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::config::{GuardConfig, Refusal};

/// What the guard remembers about one source.
#[derive(Debug, Clone, Default)]
struct Source {
    /// Accepted attempts within the rate window, at most `rate_per_source`.
    attempts: VecDeque<u64>,
    /// Failures since the last success.
    failures: u32,
    /// Time of the last failure.
    last_failure_ms: u64,
    /// Time of the last accepted attempt or failure (the eviction order).
    last_active_ms: u64,
}

/// Rate limits, per-source backoff and a global lockout for `POST /pair` (HS-PAIR-2).
///
/// `K` identifies a source (the server passes the client IP, as bytes or text).
/// Driving contract: call [`PairingGuard::begin`] before a password attempt
/// starts; if it returns `Ok`, the attempt already counts as a failure, and a
/// successful one is resolved with [`PairingGuard::succeed`]. (The older pair
/// [`PairingGuard::check`], then [`PairingGuard::record_failure`] or
/// [`PairingGuard::record_success`], leaves a window in which concurrent
/// attempts all pass: use it only where attempts cannot overlap.) Every call takes the current time in ms
/// (any monotonic clock); the guard reads no clock itself.
///
/// The guard is for pairing only: registered devices' sync sessions and
/// `GET /devices` never consult it, so a lockout never affects them.
///
/// Memory is bounded: per source at most `rate_per_source` timestamps, at most
/// `max_sources` sources (idle ones are forgotten after `forget_after_ms`, and
/// beyond the cap the least recently active is evicted), and globally at most
/// `rate_global` + `lockout_failures` timestamps. An attacker with more
/// addresses than the cap can evict a backed-off source; the global rate limit
/// and the lockout still hold.
#[derive(Debug, Clone)]
pub struct PairingGuard<K: Ord + Clone> {
    config: GuardConfig,
    sources: BTreeMap<K, Source>,
    /// `(last_active_ms, source)` for every tracked source, oldest first.
    by_age: BTreeSet<(u64, K)>,
    global_attempts: VecDeque<u64>,
    global_failures: VecDeque<u64>,
    locked_until_ms: Option<u64>,
}

/// True if an event at `t` is still inside a window of `window` ms ending at `now`.
fn in_window(t: u64, now: u64, window: u64) -> bool {
    now.saturating_sub(t) < window
}

/// Drops timestamps that left the window from the front. Timestamps are
/// pushed in call order; if the caller's clock stepped back, a later entry may
/// be older and is dropped later than it could be (stricter, never laxer).
fn expire(times: &mut VecDeque<u64>, now: u64, window: u64) {
    while times.front().is_some_and(|t| !in_window(*t, now, window)) {
        times.pop_front();
    }
}

/// An accepted attempt, counted as a failure until resolved ([`PairingGuard::begin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "resolve a successful attempt with PairingGuard::succeed"]
pub struct Attempt {
    at_ms: u64,
}

/// Time until one of `times` leaves the window (the soonest), or the whole window if there are none.
fn time_to_free_slot(times: &VecDeque<u64>, now: u64, window: u64) -> u64 {
    times
        .iter()
        .map(|t| t.saturating_add(window).saturating_sub(now))
        .min()
        .unwrap_or(window)
}

impl<K: Ord + Clone> PairingGuard<K> {
    /// A guard with nothing recorded.
    pub fn new(config: GuardConfig) -> Self {
        PairingGuard {
            config: config.normalised(),
            sources: BTreeMap::new(),
            by_age: BTreeSet::new(),
            global_attempts: VecDeque::new(),
            global_failures: VecDeque::new(),
            locked_until_ms: None,
        }
    }

    /// The settings in force (after the floors of [`GuardConfig`]).
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// How many sources are tracked (at most `max_sources`).
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    /// When the current lockout ends, if pairing is locked at `now_ms`.
    pub fn locked_until_ms(&self, now_ms: u64) -> Option<u64> {
        self.locked_until_ms.filter(|until| now_ms < *until)
    }

    /// Decides whether a pairing attempt from `source` may proceed to the
    /// password check (HS-PAIR-2). An accepted attempt counts toward the rate
    /// limits; a refused one does not.
    ///
    /// Per-source limits come first, so that a source refused by its own
    /// limits never touches the global ones (HS-PAIR-2): this source's
    /// backoff, its rate over the sliding window, then the global lockout and
    /// the global rate.
    pub fn check(&mut self, now_ms: u64, source: &K) -> Result<(), Refusal> {
        self.forget_idle(now_ms);
        let window = self.config.rate_window_ms;
        if let Some(state) = self.sources.get_mut(source) {
            let backoff = self.config.backoff_ms(state.failures);
            let until = state.last_failure_ms.saturating_add(backoff);
            if backoff > 0 && now_ms < until {
                return Err(Refusal::Backoff {
                    retry_after_ms: until - now_ms,
                });
            }
            expire(&mut state.attempts, now_ms, window);
            if state.attempts.len() >= self.config.rate_per_source as usize {
                return Err(Refusal::RateLimited {
                    retry_after_ms: time_to_free_slot(&state.attempts, now_ms, window),
                });
            }
        } else if self.config.rate_per_source == 0 {
            return Err(Refusal::RateLimited {
                retry_after_ms: window,
            });
        }
        if let Some(until) = self.locked_until_ms(now_ms) {
            return Err(Refusal::LockedOut {
                retry_after_ms: until - now_ms,
            });
        }
        self.locked_until_ms = None;
        expire(&mut self.global_attempts, now_ms, window);
        if self.global_attempts.len() >= self.config.rate_global as usize {
            return Err(Refusal::RateLimited {
                retry_after_ms: time_to_free_slot(&self.global_attempts, now_ms, window),
            });
        }
        self.global_attempts.push_back(now_ms);
        self.touch(now_ms, source).attempts.push_back(now_ms);
        Ok(())
    }

    /// [`PairingGuard::check`], and if the attempt may proceed, counts it as a
    /// failure at once: an attempt in flight is a failure until
    /// [`PairingGuard::succeed`] resolves it, so concurrent guesses cannot all
    /// pass the limits before any of them is counted (HS-PAIR-2). An attempt
    /// that never finishes stays a failure.
    pub fn begin(&mut self, now_ms: u64, source: &K) -> Result<Attempt, Refusal> {
        self.check(now_ms, source)?;
        self.record_failure(now_ms, source);
        Ok(Attempt { at_ms: now_ms })
    }

    /// Resolves an attempt from [`PairingGuard::begin`] as a success: its
    /// provisional failure is taken back (globally too, unless a lockout
    /// already consumed it) and the source's failure count resets.
    pub fn succeed(&mut self, now_ms: u64, source: &K, attempt: Attempt) {
        if let Some(i) = self.global_failures.iter().position(|t| *t == attempt.at_ms) {
            self.global_failures.remove(i);
        }
        self.record_success(now_ms, source);
    }

    /// Records a wrong password from `source`: feeds its backoff and the global lockout (HS-PAIR-2).
    pub fn record_failure(&mut self, now_ms: u64, source: &K) {
        self.forget_idle(now_ms);
        let state = self.touch(now_ms, source);
        state.failures = state.failures.saturating_add(1);
        state.last_failure_ms = now_ms;
        let window = self.config.lockout_window_ms;
        expire(&mut self.global_failures, now_ms, window);
        self.global_failures.push_back(now_ms);
        if self.global_failures.len() >= self.config.lockout_failures as usize {
            let until = now_ms.saturating_add(self.config.lockout_duration_ms);
            self.locked_until_ms = Some(self.locked_until_ms.map_or(until, |u| u.max(until)));
            // The count starts afresh once the lockout ends.
            self.global_failures.clear();
        }
    }

    /// Records a correct password from `source`: resets its failure count (HS-PAIR-2).
    /// Global failures already counted toward the lockout stay counted.
    pub fn record_success(&mut self, now_ms: u64, source: &K) {
        self.forget_idle(now_ms);
        if self.sources.contains_key(source) {
            self.touch(now_ms, source).failures = 0;
        }
    }

    /// The state of `source`, created if new (evicting the least recently
    /// active source at the cap), marked active at `now_ms`.
    fn touch(&mut self, now_ms: u64, source: &K) -> &mut Source {
        let active = match self.sources.get(source) {
            Some(state) => {
                self.by_age.remove(&(state.last_active_ms, source.clone()));
                state.last_active_ms.max(now_ms)
            }
            None => {
                while self.sources.len() >= self.config.max_sources {
                    let Some((_, oldest)) = self.by_age.pop_first() else {
                        break;
                    };
                    self.sources.remove(&oldest);
                }
                now_ms
            }
        };
        self.by_age.insert((active, source.clone()));
        let state = self.sources.entry(source.clone()).or_default();
        state.last_active_ms = active;
        state
    }

    /// Forgets sources idle for `forget_after_ms`: their windows and backoff
    /// have ended (the config floors guarantee it).
    fn forget_idle(&mut self, now_ms: u64) {
        while let Some((active, source)) = self.by_age.first() {
            if in_window(*active, now_ms, self.config.forget_after_ms) {
                break;
            }
            self.sources.remove(source);
            self.by_age.pop_first();
        }
    }
}
