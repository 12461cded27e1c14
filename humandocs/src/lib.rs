//! # Humandocs
//!
//! Documents with a title, a text body and attachments, kept on every device of one person by
//! [`humansync`]: no backend, fully usable offline from the first launch, sync invisible apart from
//! a small status line (peers, pending, last sync).
//!
//! - [`schema`]: the document layout (`humandocs/doc-{uuid}`, `_schema_version`, body as Automerge
//!   Text edited by splicing, attachments as blob references) and in-place edits (HS-DOC-4).
//! - [`app`]: the operations (create, list, show, splice, attach, save an attachment, delete,
//!   status, pair) over a running node.
//! - [`ipc`], [`server`], [`client`], [`waits`]: the non-interactive interface — the running app
//!   listens on `<data>/humandocs.sock`, every other subcommand talks JSON lines to it.
//! - [`web`]: the browser UI — an HTTP server on loopback serving the page and a JSON API with
//!   live edits as Automerge splices (what `humandocs` without a command starts).
//! - [`run`], [`ui`], [`setup`]: the foreground node, the line-oriented terminal app
//!   (`humandocs shell`), first-run set-up.

pub mod app;
pub mod cli;
pub mod client;
pub mod device_report;
mod error;
pub mod events;
pub mod ids;
pub mod ipc;
pub mod run;
pub mod schema;
pub mod server;
pub mod settings;
pub mod setup;
pub mod status;
pub mod ui;
pub mod waits;
pub mod web;

pub use app::App;
pub use error::AppError;
