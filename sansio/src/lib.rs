//! # humansync-sansio
//!
//! The pure core of HumanSync: the registry view, the admission gate, the
//! pairing decisions, and document set reconciliation and sync as state
//! machines. It performs no I/O: no sockets, no files, no clocks, no OS
//! randomness. Callers pass in the current time, seeds and Automerge actor ids,
//! and carry out the effects the core asks for, so every run is deterministic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod gate;
pub mod pairing;
pub mod registry;
