//! `humansync`: the app-facing HumanSync library.
//!
//! The runtime that drives the pure core (`humansync-sansio`) over real iroh
//! connections and a real on-disk store is built in its own issue (the
//! `humansync` library issue). Until then this crate only re-exports the wire
//! types so that apps and tools can already name ids and limits.

pub use humansync_protocol as protocol;
pub mod transport;
