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
//! ## Control loop (the contract every driver keeps)
//! ```text
//! loop {
//!     core.handle_*(now, input);             // exactly one mutation (or one app operation)
//!     while let Some(out) = core.poll_output() { perform(out) }   // drain, in order
//!     wait for the next input or core.poll_timeout()              // poll_timeout_reason says why
//! }
//! ```
//! A driver MUST drain every output before the next mutation, MUST perform them in order (a
//! `Transmit` queued before a `Close` goes out first), and MUST answer every `Output::Io` task
//! exactly once with `handle_io_result`. App reads, changes and deletes are requests with an id
//! ([`Core::handle_app_request`], [`app`]): the core waits for the document's load itself and
//! answers each with exactly one `Output::AppDone`, so a driver keeps only the reply it owes. In return the core never blocks, never panics on peer
//! input, and closes a misbehaving session itself with the [`PeerFault`]'s close code.
//!
//! ## Shape
//! Each session is two explicit state machines (the handshake, then the set-level sync phase:
//! resume, reconciliation, finishing, reconciled) whose transitions return what to send or a
//! [`PeerFault`]; see `core/session/` and its transition table snapshot. The core's `impl` is
//! organised by concept (`core/mod.rs` lists the files).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
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
    BlobRetention, Core, CoreConfig, CoreError, DialConfig, DialStats, IoCounts, PeerStatus, QuarantineKind,
    Quarantined, SessionStats, Startup, SyncStatus, Totals, Wake,
};
pub use app::{AppRequest, AppRequestId};
pub use event::{Event, Origin};
pub use fault::PeerFault;
pub use io::{DocMeta, DocWrite, Heads, IoAction, IoResult, IoTask, IoTaskId, PeerSyncState};
pub use output::{ConnId, Output, Role};
pub use time::{Instant, UnixMs};
