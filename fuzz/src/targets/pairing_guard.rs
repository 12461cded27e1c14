//! `pairing_guard`: the pairing brute-force guard under arbitrary call sequences (HS-PAIR-2).
//!
//! Input: a config (the default one, or small arbitrary values), then steps of (time advance,
//! source, call) with `check` / `record_failure` / `record_success`. Checked: no panic;
//! `tracked_sources` never exceeds the cap; every refusal's `retry_after` is positive and
//! bounded by its configured maximum (rate window, backoff cap, lockout duration); the wait is
//! honest: with nothing else happening, the same refusal does not recur after waiting it out;
//! a backoff is only ever imposed on a source that has failed.

use std::collections::BTreeMap;

use arbitrary::{Result, Unstructured};
use humansync_sansio::pairing::{GuardConfig, PairingGuard, Refusal};

/// Most calls per run.
const MAX_STEPS: usize = 2_000;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = drive(&mut u);
}

fn config(u: &mut Unstructured<'_>) -> Result<GuardConfig> {
    if u.arbitrary()? {
        return Ok(GuardConfig::default());
    }
    Ok(GuardConfig {
        rate_window_ms: u.int_in_range(0..=10_000)?,
        rate_per_source: u.int_in_range(0..=6)?,
        rate_global: u.int_in_range(0..=12)?,
        failures_before_backoff: u.int_in_range(0..=5)?,
        backoff_base_ms: u.int_in_range(0..=5_000)?,
        backoff_max_ms: u.int_in_range(0..=100_000)?,
        lockout_failures: u.int_in_range(0..=12)?,
        lockout_window_ms: u.int_in_range(0..=100_000)?,
        lockout_duration_ms: u.int_in_range(0..=100_000)?,
        max_sources: u.int_in_range(0..=8)?,
        forget_after_ms: u.int_in_range(0..=200_000)?,
    })
}

fn drive(u: &mut Unstructured<'_>) -> Result<()> {
    let mut guard = PairingGuard::<u8>::new(config(u)?);
    let cfg = guard.config().clone();
    // Failures per source since its last success (the guard may forget more, never less).
    let mut failures: BTreeMap<u8, u32> = BTreeMap::new();
    let mut now = u64::from(u.arbitrary::<u32>()?);
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        now = now.saturating_add(match u.int_in_range(0u8..=5)? {
            0 | 1 => 0,
            2 | 3 => u.int_in_range(0..=2_000)?,
            4 => u.int_in_range(0..=200_000)?,
            _ => u64::from(u.arbitrary::<u32>()?),
        });
        let source = u.int_in_range(0u8..=15)?;
        match u.int_in_range(0u8..=3)? {
            0 | 1 => {
                if let Err(refusal) = guard.check(now, &source) {
                    check_refusal(&cfg, &guard, now, source, refusal, &failures);
                }
            }
            2 => {
                guard.record_failure(now, &source);
                *failures.entry(source).or_default() += 1;
            }
            _ => {
                guard.record_success(now, &source);
                failures.remove(&source);
            }
        }
        assert!(
            guard.tracked_sources() <= cfg.max_sources,
            "{} sources tracked",
            guard.tracked_sources()
        );
    }
    Ok(())
}

fn check_refusal(
    cfg: &GuardConfig,
    guard: &PairingGuard<u8>,
    now: u64,
    source: u8,
    refusal: Refusal,
    failures: &BTreeMap<u8, u32>,
) {
    let wait = refusal.retry_after_ms();
    assert!(wait > 0, "{refusal:?}: a refusal must ask to wait");
    let max = match refusal {
        Refusal::RateLimited { .. } => cfg.rate_window_ms,
        Refusal::Backoff { .. } => cfg.backoff_max_ms,
        Refusal::LockedOut { .. } => cfg.lockout_duration_ms,
    };
    assert!(wait <= max, "{refusal:?} over its maximum {max}");
    assert_eq!(refusal.retry_after_secs(), wait.div_ceil(1_000));
    if let Refusal::Backoff { .. } = refusal {
        assert!(
            failures.get(&source).copied().unwrap_or(0) > 0,
            "backoff for a source that never failed"
        );
    }
    // Honest wait: retrying after `wait` with nothing else happening meets a different answer.
    if cfg.rate_per_source == 0 || cfg.rate_global == 0 {
        return; // such a guard refuses everything, forever
    }
    let mut probe = guard.clone();
    let later = probe.check(now.saturating_add(wait), &source);
    let same = matches!(
        (refusal, later),
        (Refusal::RateLimited { .. }, Err(Refusal::RateLimited { .. }))
            | (Refusal::Backoff { .. }, Err(Refusal::Backoff { .. }))
            | (Refusal::LockedOut { .. }, Err(Refusal::LockedOut { .. }))
    );
    assert!(!same, "{refusal:?} at {now}, then {later:?} after waiting it out");
}
