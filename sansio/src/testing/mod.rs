//! Deterministic multi-device simulation: N devices and a server on a seeded fake network with a
//! fake clock — latency, loss, duplication, reordering, partitions, crash and restart — and the
//! invariant checks used by the core's property tests and by the conformance runner.
//!
//! # Pieces, one concept per module
//!
//! | module | concept |
//! |---|---|
//! | `host` | [`Host`]: one core with its disk ([`SimStore`]) and identity; boots from the disk, answers disk tasks. Shared with the conformance runner. |
//! | `node` | [`SimNode`]: a host plus what the simulation tracks about it (key, app edits in flight, bytes received). |
//! | `config`, `net` | [`SimConfig`] and the network model: QUIC-like connections over a lossy, reordering, duplicating packet network; cut links. |
//! | `events` | the event queue: packets, disk completions, closes, dials — by time, then by schedule order. |
//! | `sim`, `drive`, `transport` | [`Sim`] and its driving loop; events into cores (`handle_*`), outputs out of them (`poll_output`); dials, gates, streams. |
//! | `workload`, `faults` | what users and operators do (pair, revoke, edit, delete, add blobs) and what goes wrong (crash, cut, disconnect). |
//! | `invariants`, `claims` | checks after every step ([`Sim::violations`]), at the end ([`Sim::check_converged`]), and the up-to-date claim. |
//! | `transcript`, `observe` | message transcripts ([`summarize`]), state dumps, traffic and disk measurements. |
//!
//! # Driving a simulation
//!
//! (Not a doctest, which would link the core once more: `sansio/tests/sim/basic.rs` runs the same flow.)
//!
//! ```ignore
//! use humansync_sansio::testing::{SERVER, Sim, SimConfig};
//! use humansync_protocol::DocId;
//!
//! let mut sim = Sim::new(7, 2, SimConfig::default()); // seed 7: a server and two paired devices
//! assert!(sim.settle(60_000), "{}", sim.describe());
//! let doc = DocId::new("notes/a".to_owned()).unwrap();
//! sim.edit(1, &doc, "k1");
//! assert!(sim.settle(60_000), "{}", sim.describe());
//! sim.check_converged(&[SERVER, 1, 2]).unwrap();
//! assert!(sim.violations.is_empty());
//! ```
//!
//! The loop, as in quinn's test `Pair` (step / drive / drive_bounded):
//!
//! * **step** (private): the clock jumps to the earliest wakeup — the next queued event or the
//!   earliest [`crate::Core::poll_timeout`] of any running core — and handles exactly that one
//!   (a timer fires before an event due at the same time). Whatever the input, the core's
//!   outputs are then drained until empty (`pump`), each scheduling new events: transmits
//!   become packets, disk tasks become completions after a seeded disk latency (one task at a
//!   time per node), dial requests become dials. Every [`SimConfig::dial_interval_ms`] rogue
//!   nodes dial everyone; registered nodes dial only what their core asks for.
//! * **drive**: [`Sim::run_for`] steps until `now + ms`, then sets the clock there;
//!   [`Sim::run_checked`] does the same and calls a check after every step.
//! * **drive_bounded**: [`Sim::settle`] runs in dial intervals until nothing but rogue noise is
//!   queued and every session is settled ([`Sim::describe`] says why not), or gives up after
//!   `max_ms` of simulated time.
//!
//! Between runs a test mutates the world through the workload and fault methods; each of them
//! drains the affected core before returning, so nothing is left half-applied.
//!
//! # Determinism
//!
//! Every run is a function of its seed and its calls: the only randomness is [`SimRng`] (keys,
//! latencies, loss, disk delays, crossing dials), drawn in a fixed order, and every map is
//! ordered. A failure prints the seed, and `Sim::new(seed, ..)` with the same calls replays it
//! exactly. The integration tests take their seeds from `SIM_SEED` (one seed) or `SIM_SEEDS`
//! (how many, default 500), see `sansio/tests/sim/main.rs`.

pub mod bombs;
mod claims;
mod config;
mod drive;
mod events;
mod faults;
mod host;
mod invariants;
mod net;
mod node;
mod observe;
mod rng;
mod sim;
mod store;
mod transcript;
mod transport;
mod workload;

pub use claims::false_up_to_date_claims;
pub use config::SimConfig;
pub use host::Host;
pub use node::SimNode;
pub use rng::SimRng;
pub use sim::{SERVER, Sim};
pub use store::{SimStore, StoredDoc};
pub use transcript::summarize;
