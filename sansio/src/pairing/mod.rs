//! Server-side pairing decisions, pure (SPEC.md §5): the brute-force guard in
//! front of the password check (HS-PAIR-2) and what to do with a request once
//! the password check is known (HS-HTTP-2, HS-PAIR-4).
//!
//! The guard is consulted for `POST /pair` only. Sync sessions of registered
//! devices and `GET /devices` never go through it, so a lockout cannot affect
//! them (HS-PAIR-2).

mod config;
mod decide;
mod guard;
pub mod pake;

pub use config::{GuardConfig, MAX_TRACKED_SOURCES, Refusal};
pub use decide::{PairDecision, decide_pair};
pub use guard::{Attempt, PairingGuard};
