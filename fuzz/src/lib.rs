//! # humansync-fuzz
//!
//! libFuzzer targets for the HumanSync decoders and state machines. Each target's logic is a
//! plain `run(&[u8])` function in [`targets`], so that `cargo test` (stable) replays every
//! committed corpus file without libFuzzer, and `fuzz_targets/<name>.rs` is a one-line wrapper.
//!
//! Every `run` panics (an `assert!`) when an invariant breaks; that is how libFuzzer sees a bug.
//! See `fuzz/README.md` for how to run them and how to add a regression.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arb;
pub mod fixture;
pub mod targets;
