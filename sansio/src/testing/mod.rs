//! Deterministic multi-device simulation: N devices and a server on a seeded fake network with a
//! fake clock — latency, loss, duplication, reordering, partitions, crash and restart — and the
//! invariant checks used by the core's property tests and by the conformance runner.
//!
//! Every run is a function of its seed: a failure prints the seed, and `Sim::new(seed, ..)`
//! replays it exactly.

pub mod bombs;
mod claims;
mod node;
mod rng;
mod sim;
mod store;

pub use claims::false_up_to_date_claims;
pub use node::SimNode;
pub use rng::SimRng;
pub use sim::{SERVER, Sim, SimConfig, summarize};
pub use store::{SimStore, StoredDoc};
