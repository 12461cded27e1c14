//! # humansync-linkem
//!
//! A link emulator for a kernel without `netem`: network namespaces joined through a hub
//! namespace by emulated links. Each link's rate is the kernel's `tbf` on the TUN devices at
//! both ends; its loss, one-way delay and jitter (without reordering) are applied by this
//! crate's userspace forwarder between those TUN devices, seeded, and every setting changes at
//! run time (a link can also be taken down and up). See [`lab`] for the topology and
//! [`LinkProfile`] for the profiles (`lan`, `broadband`, `lte`, `poor`).
//!
//! Use it from Rust ([`Lab::start`], [`Lab::command`], [`Lab::set_profile`], [`Lab::set_up`])
//! or from shell scripts with the `linkem` binary (`linkem up`, `linkem set`, `linkem down`,
//! `linkem measure`, `linkem cleanup`; see `linkem --help`). Needs root.

#![warn(missing_docs)]

pub mod control;
pub mod forwarder;
pub mod lab;
pub mod measure;
mod profile;
mod sys;

pub use lab::{Lab, LinkStats, NodeSpec, cleanup, kill_processes_in};
pub use profile::{LinkProfile, PROFILES};
pub use sys::spawn_in_namespace;

/// What can go wrong setting up or driving a lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A system command (`ip`, `tc`, `sysctl`) or call (TUN, setns) failed.
    #[error("{0}")]
    Command(String),
    /// A lab or node name that is empty, too long, taken, or has characters other than
    /// letters, digits and `-`.
    #[error("bad or duplicate name {0:?}")]
    BadName(String),
    /// No node of that name in the lab.
    #[error("no node {0:?} in the lab")]
    NoSuchNode(String),
    /// The lab was already torn down.
    #[error("the lab is stopped")]
    Stopped,
    /// A control request failed.
    #[error("control: {0}")]
    Control(String),
}
