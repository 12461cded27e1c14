//! # humansync-sansio
//!
//! The pure core of HumanSync; no I/O. Every decision of the protocol (set
//! reconciliation, and later admission, pairing and document sync) lives here
//! as deterministic functions and state machines: time and randomness are
//! passed in, effects are returned to the caller, and nothing here touches
//! the network, the file system or a clock.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod recon;
