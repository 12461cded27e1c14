//! # humansync-sansio
//!
//! The pure core of HumanSync: pairing decisions, registry verification and
//! gating, document set reconciliation, per-document Automerge sync, whole
//! document transfer, live push and the blob want-list — as state machines over
//! bytes, with no I/O.
//!
//! ## Determinism contract
//! Inputs are received bytes, app operations, I/O results and timer ticks, each
//! with `now` passed in; outputs are bytes to transmit, connections to close,
//! I/O requests and events ([`Output`]). The core never reads a clock, never
//! touches the network or the disk, and never uses OS randomness to decide
//! anything: Automerge actor ids come from the caller. (The `automerge` crate
//! draws a throwaway random actor id when it constructs a document; the core
//! replaces it with the caller's actor before any change, so no output depends
//! on it.)
//!
//! ## Control loop
//! ```text
//! loop {
//!     core.handle_*(now, input);             // exactly one mutation
//!     while let Some(out) = core.poll_output() { perform(out) }
//!     wait for the next input or core.poll_timeout()
//! }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod core;
mod event;
mod fault;
pub mod gate;
mod io;
mod output;
pub mod pairing;
pub mod recon;
pub mod registry;
pub mod retention;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
pub mod untrusted;

pub use crate::core::OpenState;
pub use crate::core::{
    BlobRetention, Core, CoreConfig, CoreError, DialConfig, DialStats, PeerStatus, QuarantineKind,
    Quarantined, SessionStats, Startup, SyncStatus, Wake,
};
pub use event::{Event, Origin};
pub use fault::PeerFault;
pub use io::{DocMeta, DocWrite, IoAction, IoResult, IoTask, IoTaskId, PeerSyncState};
pub use output::{ConnId, Output, Role};
pub use time::{Instant, UnixMs};
