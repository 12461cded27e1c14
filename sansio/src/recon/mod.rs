//! Range-based set reconciliation of the document set (SPEC.md §6, HS-RECON-1 .. HS-RECON-5),
//! in the manner of Negentropy, iroh-docs and Willow's range-based set reconciliation.
//!
//! Each side holds a [`DocSet`]: document id → 16-byte digest (or the
//! tombstone digest), kept as a value the digest derives from ([`Digested`]). Hello and Welcome carry [`DocSet::summary`]; when the
//! summaries are equal the sets are equal and nothing more is sent (HS-RECON-1).
//! Otherwise the dialer sends `Reconcile { ranges: initiate(&set) }` and each
//! side answers every Reconcile it receives with `respond(&set, &ranges)`:
//!
//! ```text
//! dialer A                                    acceptor B
//!   Hello{set: A.summary()}  ───────────────▶
//!                            ◀─────────────── Welcome{set: B.summary()}
//!   (summaries differ)
//!   Reconcile{initiate(A)}   ───────────────▶ respond(B, ..) → reply, actions
//!                            ◀─────────────── Reconcile{reply}
//!   respond(A, ..) → reply, actions
//!   …                                         …
//!   Reconcile{all Skip}      ───────────────▶ respond(B, ..) → reply None: done
//! ```
//!
//! A range is the half-open id interval from the previous range's upper bound
//! (the empty key for the first) to its own [`Bound`]; ids order bytewise.
//! A differing range is narrowed by splitting it into `RECON_BRANCHING`
//! fingerprinted sub-ranges until one side holds few enough items to list them;
//! the other side then diffs that list against its own items and emits one
//! [`ReconAction`] per differing document, which the sync engine performs.
//! Messages grow with the number of differing documents times the logarithm of
//! the set size, not with the set size.
//!
//! Driving contract: the caller sends every `Some(reply)` as one Reconcile
//! message, performs the actions, and stops answering once it receives a
//! message for which [`respond`] returns `reply: None`. A side whose reply is
//! all-Skip ([`Response::is_final`]) sends it and expects no answer. The sets
//! should stay as they were when the exchange started (changes made meanwhile
//! are carried by live push, HS-SYNC-4). Everything here is pure and
//! deterministic: the same sets and input give the same output.

mod action;
mod error;
mod respond;
mod set;
#[cfg(feature = "testing")]
pub mod sim;
mod split;

pub use action::ReconAction;
pub use error::ReconError;
pub use respond::{Response, initiate, initiate_whole, respond};
pub use set::{Digested, DocSet};
pub use split::separator;
