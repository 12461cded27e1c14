//! # humansync-server
//!
//! The always-on HumanSync peer: the pairing HTTP API of SPEC.md §5 (axum), the device registry
//! in SQLite (sqlx), and the cloud peer — a [`humansync::Node`] that is its own registry anchor,
//! keeps every document and blob of the user's devices under the data directory, and signs the
//! registry records.
//!
//! Layout of the data directory: `registry.db` (SQLite, WAL: every signed record and the
//! OPAQUE keys and password record, invitations) and `node/` (the node's identity key, documents and blobs).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod admin;
pub mod admin_invite;
pub mod clock;
pub mod config;
pub mod db;
pub mod guard;
pub mod healthcheck;
pub mod http;
pub mod invitations;
pub mod logins;
pub mod metrics;
pub mod password;
pub mod proxy;
pub mod registry;
pub mod relay;
pub mod replay;
pub mod server;

pub use config::{Cli, ServerConfig};
pub use server::{Overrides, RunningServer, ServerError, start};
