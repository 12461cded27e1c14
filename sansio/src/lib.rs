//! # humansync-sansio
//!
//! The pure core of HumanSync: registry verification and gating, pairing
//! decisions and document set reconciliation, with no I/O.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod gate;
pub mod pairing;
pub mod recon;
pub mod registry;
