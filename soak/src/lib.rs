//! # humansync-soak
//!
//! The chaos soak of issue 20: the real server binary and Humandocs apps (driven through their
//! JSON socket), each in its own network namespace behind an emulated link
//! ([`humansync_linkem`]), under a seeded fault schedule ([`schedule`]) and a seeded workload
//! ([`workload`]), with the invariants checked continuously ([`probes`], [`claims`]) and after
//! every heal ([`checks`]); a final store check ([`storecheck`]). Every run writes a JSON
//! journal; every failure prints its seed and schedule, and the same seed replays the same
//! schedule. Entry point: `scripts/soak.sh` (README: *Chaos soak*).

#![warn(missing_docs)]

pub mod checks;
pub mod claims;
pub mod client;
pub mod faults;
pub mod journal;
pub mod model;
pub mod probes;
pub mod procs;
pub mod revoke;
pub mod rng;
pub mod run;
pub mod schedule;
pub mod snapshot;
pub mod storecheck;
pub mod workload;
pub mod world;
