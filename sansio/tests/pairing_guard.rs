//! The pairing brute-force guard with explicit clocks (HS-PAIR-2): rate limits,
//! per-source backoff, global lockout, success reset and bounded memory.

mod registry_support;

use humansync_protocol::limits::{
    PAIR_BACKOFF_BASE_MS, PAIR_BACKOFF_MAX_MS, PAIR_FAILURES_BEFORE_BACKOFF, PAIR_LOCKOUT_DURATION_MS,
    PAIR_LOCKOUT_FAILURES, PAIR_LOCKOUT_WINDOW_MS, PAIR_RATE_GLOBAL, PAIR_RATE_PER_SOURCE,
    PAIR_RATE_WINDOW_MS,
};
use humansync_sansio::gate::{Admission, admit};
use humansync_sansio::pairing::{GuardConfig, MAX_TRACKED_SOURCES, PairingGuard, Refusal};
use registry_support::*;

fn guard() -> PairingGuard<u32> {
    PairingGuard::new(GuardConfig::default())
}

/// One attempt with a wrong password.
fn fail(g: &mut PairingGuard<u32>, now: u64, source: u32) {
    assert_eq!(
        g.check(now, &source),
        Ok(()),
        "attempt at {now} from {source} must pass the guard"
    );
    g.record_failure(now, &source);
}

// The defaults are the protocol's PAIR_* limits (HS-PAIR-2).
#[test]
fn default_config_uses_protocol_limits() {
    let c = GuardConfig::default();
    assert_eq!(c.rate_window_ms, PAIR_RATE_WINDOW_MS);
    assert_eq!(c.rate_per_source, PAIR_RATE_PER_SOURCE);
    assert_eq!(c.rate_global, PAIR_RATE_GLOBAL);
    assert_eq!(c.failures_before_backoff, PAIR_FAILURES_BEFORE_BACKOFF);
    assert_eq!(c.backoff_base_ms, PAIR_BACKOFF_BASE_MS);
    assert_eq!(c.backoff_max_ms, PAIR_BACKOFF_MAX_MS);
    assert_eq!(c.lockout_failures, PAIR_LOCKOUT_FAILURES);
    assert_eq!(c.lockout_window_ms, PAIR_LOCKOUT_WINDOW_MS);
    assert_eq!(c.lockout_duration_ms, PAIR_LOCKOUT_DURATION_MS);
    assert_eq!(c.max_sources, MAX_TRACKED_SOURCES);
}

// HS-PAIR-2: per-source sliding window: the 11th attempt within 60 s waits for the oldest to expire.
#[test]
fn per_source_rate_limit_exact_retry_after() {
    let mut g = guard();
    for i in 0..PAIR_RATE_PER_SOURCE as u64 {
        assert_eq!(g.check(i * 1_000, &7), Ok(()));
        g.record_success(i * 1_000, &7);
    }
    // 10 attempts at 0, 1000, …, 9000.
    assert_eq!(
        g.check(10_000, &7),
        Err(Refusal::RateLimited {
            retry_after_ms: 50_000
        })
    );
    assert_eq!(
        g.check(59_999, &7),
        Err(Refusal::RateLimited { retry_after_ms: 1 })
    );
    // Another source is not affected.
    assert_eq!(g.check(10_000, &8), Ok(()));
    // The attempt at 0 leaves the window at 60 000.
    assert_eq!(g.check(60_000, &7), Ok(()));
    // Full again; the next slot frees when the attempt at 1000 expires.
    assert_eq!(
        g.check(60_000, &7),
        Err(Refusal::RateLimited {
            retry_after_ms: 1_000
        })
    );
}

// HS-PAIR-2: global sliding window over all sources.
#[test]
fn global_rate_limit_exact_retry_after() {
    let mut g = guard();
    for i in 0..PAIR_RATE_GLOBAL {
        assert_eq!(g.check(u64::from(i), &i), Ok(()));
    }
    // 60 attempts at t = 0..=59 ms; a new source at 100 waits until the attempt at 0 expires.
    assert_eq!(
        g.check(100, &1_000),
        Err(Refusal::RateLimited {
            retry_after_ms: 59_900
        })
    );
    assert_eq!(g.check(60_000, &1_000), Ok(()));
    assert_eq!(
        g.check(60_000, &1_001),
        Err(Refusal::RateLimited { retry_after_ms: 1 })
    );
}

// HS-PAIR-2: when both windows are full, the longer wait is returned.
#[test]
fn a_source_over_its_own_rate_gets_its_own_wait() {
    let config = GuardConfig {
        rate_per_source: 2,
        rate_global: 3,
        ..GuardConfig::default()
    };
    let mut g = PairingGuard::new(config);
    assert_eq!(g.check(0, &1), Ok(()));
    assert_eq!(g.check(10_000, &2), Ok(()));
    assert_eq!(g.check(20_000, &1), Ok(()));
    // Source 1 frees at 60 000; global frees at 60 000 too (attempt at 0) → 30 000 from now.
    assert_eq!(
        g.check(30_000, &1),
        Err(Refusal::RateLimited {
            retry_after_ms: 30_000
        })
    );
    // At 60 000 source 1 still has its attempt at 20 000 (1 of 2): allowed; global drops to 2 of 3.
    assert_eq!(g.check(60_000, &1), Ok(()));
    // Now source 1 is full until 80 000 and global is full until 70 000: the longer wait wins.
    assert_eq!(
        g.check(60_000, &1),
        Err(Refusal::RateLimited {
            retry_after_ms: 20_000
        })
    );
}

// HS-PAIR-2: backoff starts after PAIR_FAILURES_BEFORE_BACKOFF failures, doubles, and is capped.
#[test]
fn backoff_doubles_then_caps() {
    let mut g = guard();
    let mut now = 0;
    for _ in 0..PAIR_FAILURES_BEFORE_BACKOFF - 1 {
        fail(&mut g, now, 1);
    }
    // Below the threshold there is no backoff.
    assert_eq!(g.check(now, &1), Ok(()));
    g.record_failure(now, &1);
    let mut expected_waits = Vec::new();
    let mut failures = PAIR_FAILURES_BEFORE_BACKOFF;
    while failures < PAIR_FAILURES_BEFORE_BACKOFF + 14 {
        let wait = match g.check(now, &1) {
            Err(Refusal::Backoff { retry_after_ms }) => retry_after_ms,
            other => panic!("expected backoff after {failures} failures, got {other:?}"),
        };
        expected_waits.push(wait);
        assert_eq!(
            g.check(now + wait - 1, &1),
            Err(Refusal::Backoff { retry_after_ms: 1 })
        );
        now += wait;
        fail(&mut g, now, 1);
        failures += 1;
        assert_eq!(
            g.locked_until_ms(now),
            None,
            "one slow source never trips the lockout"
        );
    }
    let doubling: Vec<u64> = (0..14u32)
        .map(|k| (PAIR_BACKOFF_BASE_MS << k).min(PAIR_BACKOFF_MAX_MS))
        .collect();
    assert_eq!(expected_waits, doubling);
    assert_eq!(
        expected_waits[..4],
        [1_000, 2_000, 4_000, 8_000],
        "base 1 s, doubling"
    );
    assert_eq!(
        *expected_waits.last().expect("14 waits"),
        900_000,
        "capped at 15 min"
    );
}

// HS-PAIR-2: a success resets the source's failure count; the next backoff starts from the base.
#[test]
fn success_resets_the_failure_count() {
    let mut g = guard();
    for _ in 0..PAIR_FAILURES_BEFORE_BACKOFF {
        fail(&mut g, 0, 1);
    }
    fail(&mut g, 1_000, 1);
    assert_eq!(
        g.check(1_000, &1),
        Err(Refusal::Backoff {
            retry_after_ms: 2_000
        })
    );
    assert_eq!(g.check(3_000, &1), Ok(()));
    g.record_success(3_000, &1);
    // No backoff any more, and two new failures are still below the threshold.
    fail(&mut g, 3_000, 1);
    fail(&mut g, 3_000, 1);
    assert_eq!(g.check(3_000, &1), Ok(()));
    g.record_failure(3_000, &1);
    assert_eq!(
        g.check(3_000, &1),
        Err(Refusal::Backoff {
            retry_after_ms: 1_000
        })
    );
}

// HS-PAIR-2: PAIR_LOCKOUT_FAILURES failures within the window lock pairing for everyone, then it reopens.
#[test]
fn global_lockout_and_expiry() {
    let mut g = guard();
    for i in 0..PAIR_LOCKOUT_FAILURES - 1 {
        fail(&mut g, u64::from(i) * 1_000, i);
    }
    let last = u64::from(PAIR_LOCKOUT_FAILURES - 1) * 1_000; // 19 000
    assert_eq!(g.locked_until_ms(last), None);
    fail(&mut g, last, 500);
    let until = last + PAIR_LOCKOUT_DURATION_MS;
    assert_eq!(g.locked_until_ms(last), Some(until));
    assert_eq!(
        g.check(last, &9_999),
        Err(Refusal::LockedOut {
            retry_after_ms: 900_000
        })
    );
    assert_eq!(
        g.check(until - 1, &9_999),
        Err(Refusal::LockedOut { retry_after_ms: 1 })
    );
    assert_eq!(g.check(until, &9_999), Ok(()));
    assert_eq!(g.locked_until_ms(until), None);
    // The count started afresh: one more failure does not lock again.
    g.record_failure(until, &9_999);
    assert_eq!(g.check(until, &10_000), Ok(()));
}

// HS-PAIR-2: failures spread wider than the lockout window do not lock.
#[test]
fn failures_outside_the_window_do_not_lock() {
    let mut g = guard();
    for i in 0..PAIR_LOCKOUT_FAILURES - 1 {
        fail(&mut g, 0, i);
    }
    // The first 19 failures leave the window exactly at PAIR_LOCKOUT_WINDOW_MS.
    fail(&mut g, PAIR_LOCKOUT_WINDOW_MS, 100);
    assert_eq!(g.locked_until_ms(PAIR_LOCKOUT_WINDOW_MS), None);
    assert_eq!(g.check(PAIR_LOCKOUT_WINDOW_MS, &101), Ok(()));
}

// HS-PAIR-2: a lockout never affects registered devices: admission does not consult the guard.
#[test]
fn lockout_does_not_affect_registered_devices() {
    let mut g = guard();
    for i in 0..PAIR_LOCKOUT_FAILURES {
        fail(&mut g, 0, i);
    }
    assert!(matches!(g.check(0, &1), Err(Refusal::LockedOut { .. })));
    let mut reg = registry();
    reg.insert(&device(1, "phone", 1)).expect("valid");
    // The gate (sync sessions, blobs) and the registry read by GET /devices ignore the guard.
    assert_eq!(admit(&id(1), &anchor(), &reg), Admission::Admit);
    assert!(reg.is_admitted(&id(1)));
}

// Memory is bounded: 100 000 distinct sources never grow the guard beyond the cap.
#[test]
fn memory_is_bounded_with_many_sources() {
    let config = GuardConfig {
        rate_global: u32::MAX,
        lockout_failures: u32::MAX,
        ..GuardConfig::default()
    };
    let mut g = PairingGuard::new(config);
    let mut peak = 0;
    for i in 0..100_000u32 {
        assert_eq!(g.check(u64::from(i), &i), Ok(()));
        g.record_failure(u64::from(i), &i);
        peak = peak.max(g.tracked_sources());
    }
    assert_eq!(peak, MAX_TRACKED_SOURCES);
    assert_eq!(g.tracked_sources(), MAX_TRACKED_SOURCES);

    // With the default config (global limits on), failures alone also stay bounded.
    let mut g = guard();
    for i in 0..100_000u32 {
        g.record_failure(u64::from(i), &i);
        peak = peak.max(g.tracked_sources());
    }
    assert!(g.tracked_sources() <= MAX_TRACKED_SOURCES);
    assert_eq!(peak, MAX_TRACKED_SOURCES);
}

// Idle sources are forgotten after forget_after_ms; at the cap the least recently active is evicted.
#[test]
fn idle_and_oldest_sources_are_forgotten() {
    let config = GuardConfig {
        max_sources: 3,
        ..GuardConfig::default()
    };
    let forget = config.forget_after_ms;
    let mut g = PairingGuard::new(config);
    for _ in 0..PAIR_FAILURES_BEFORE_BACKOFF {
        fail(&mut g, 0, 1); // source 1 backs off
    }
    fail(&mut g, 10, 2);
    fail(&mut g, 20, 3);
    assert!(matches!(g.check(20, &1), Err(Refusal::Backoff { .. })));
    // Touching source 1 again keeps it; source 4 then evicts source 2, the least recently active.
    g.record_failure(30, &1);
    fail(&mut g, 40, 4);
    assert_eq!(g.tracked_sources(), 3);
    assert!(matches!(g.check(40, &1), Err(Refusal::Backoff { .. })));
    // Long idle: everything is forgotten at the next call.
    assert_eq!(g.check(40 + forget, &9), Ok(()));
    assert_eq!(g.tracked_sources(), 1);
    assert_eq!(
        g.check(40 + forget, &1),
        Ok(()),
        "backoff long over, source forgotten"
    );
}

// HS-HTTP-2: Retry-After is whole seconds, rounded up.
#[test]
fn retry_after_seconds_round_up() {
    assert_eq!(Refusal::RateLimited { retry_after_ms: 1 }.retry_after_secs(), 1);
    assert_eq!(
        Refusal::Backoff {
            retry_after_ms: 1_000
        }
        .retry_after_secs(),
        1
    );
    assert_eq!(
        Refusal::LockedOut {
            retry_after_ms: 1_001
        }
        .retry_after_secs(),
        2
    );
    assert_eq!(
        Refusal::LockedOut {
            retry_after_ms: 900_000
        }
        .retry_after_ms(),
        900_000
    );
}

#[test]
fn attempts_in_flight_count_as_failures_until_they_succeed() {
    // HS-PAIR-2: begin() counts the attempt as a failure at once, so concurrent guesses from
    // one source cannot all pass before any is counted.
    let mut g = PairingGuard::new(GuardConfig::default());
    for _ in 0..3 {
        let _ = g.begin(0, &1).expect("within limits");
    }
    assert!(
        matches!(g.begin(0, &1), Err(Refusal::Backoff { .. })),
        "the 4th in flight is refused"
    );
    // Successful attempts are taken back: 40 sequential successes never lock anyone out.
    let mut g = PairingGuard::new(GuardConfig::default());
    for i in 0..40u64 {
        let attempt = g.begin(i * 2_000, &(i % 4)).expect("allowed");
        g.succeed(i * 2_000 + 1, &(i % 4), attempt);
    }
    assert_eq!(g.locked_until_ms(80_001), None);
}

#[test]
fn a_source_refused_by_its_own_limits_never_uses_the_global_budget() {
    // HS-PAIR-2: per-source limits come before the global ones.
    let config = GuardConfig {
        rate_per_source: 2,
        rate_global: 4,
        ..GuardConfig::default()
    };
    let mut g = PairingGuard::new(config);
    assert_eq!(g.check(0, &1), Ok(()));
    assert_eq!(g.check(0, &1), Ok(()));
    for _ in 0..100 {
        assert!(g.check(0, &1).is_err());
    }
    assert_eq!(
        g.check(0, &2),
        Ok(()),
        "source 1's refused requests used no global slot"
    );
    assert_eq!(g.check(0, &2), Ok(()));
}

// A refusal always asks to wait (a `Retry-After` of at least 1 s), even under a configuration
// that refuses everything with a zero-length window (found by the pairing_guard fuzz target).
#[test]
fn a_refusal_always_asks_to_wait() {
    for (per_source, global) in [(0, 5), (5, 0), (0, 0)] {
        let mut g = PairingGuard::<u32>::new(GuardConfig {
            rate_window_ms: 0,
            rate_per_source: per_source,
            rate_global: global,
            ..GuardConfig::default()
        });
        let refusal = g.check(1_000, &7).expect_err("a zero rate refuses");
        assert!(refusal.retry_after_ms() > 0, "{refusal:?}");
        assert_eq!(refusal.retry_after_secs(), 1, "{refusal:?}");
    }
}
