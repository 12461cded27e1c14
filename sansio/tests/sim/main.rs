//! The simulation tests, one test binary (each binary links the whole core; one link instead of
//! seven). Each module is one concern; they drive [`humansync_sansio::testing::Sim`] (its
//! module docs describe the driving loop).
//!
//! Seeds: every seeded test runs a fixed default set of seeds; `SIM_SEED=S` runs seed `S` alone
//! in every test (a failure prints its seed, and this replays it exactly), `SIM_SEEDS=N` widens
//! the random runs of [`props`] to N seeds (default 500, CI), from `SIM_SEED_START` (default 0).
//! `cargo test -p humansync-sansio --all-features --test sim -- props` runs one module.

mod basic;
mod connect;
mod cost;
mod large_doc;
mod props;
mod resume;
mod status;

/// The seed contract: fixed defaults, overridden from the environment.
mod seeds {
    use std::ops::Range;

    /// `SIM_SEED`, when set: the one seed to replay.
    fn replay() -> Option<u64> {
        let seed = std::env::var("SIM_SEED").ok()?;
        Some(seed.parse().expect("SIM_SEED must be a number"))
    }

    fn var(name: &str, default: u64) -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// The seeds of a test with a fixed set: `default`, or `SIM_SEED` alone.
    pub(crate) fn or(default: Range<u64>) -> Vec<u64> {
        match replay() {
            Some(seed) => vec![seed],
            None => default.collect(),
        }
    }

    /// The seeds of the random runs: `SIM_SEEDS` of them (default 500) from `SIM_SEED_START`
    /// (default 0), or `SIM_SEED` alone.
    pub(crate) fn many() -> Vec<u64> {
        if let Some(seed) = replay() {
            return vec![seed];
        }
        let start = var("SIM_SEED_START", 0);
        (start..start.saturating_add(var("SIM_SEEDS", 500))).collect()
    }
}
