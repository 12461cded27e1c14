//! # humansync
//!
//! The HumanSync library: link it into an app and the app *is* a sync node — no daemon.
//! Documents are Automerge CRDTs stored on the device; large files are iroh-blobs referenced by
//! hash; peers are the user's other devices and their always-on server, reached over iroh (QUIC,
//! NAT traversal, relays, mDNS on the LAN). Every read and write is local and instant and works
//! offline and before pairing; changes sync in the background and are pushed live.
//!
//! ```no_run
//! # async fn demo() -> Result<(), humansync::Error> {
//! use humansync::{HumanSyncConfig, init};
//!
//! let mut config = HumanSyncConfig::new("/var/lib/my-app/humansync");
//! config.server_url = Some("https://sync.example.org".into());
//! let node = init(config).await?;
//! node.pair("the server password").await?; // first launch only
//!
//! let list = node.open_doc("notes/shopping-list").await?;
//! list.put("title", "Groceries").await?; // durable on return, pushed to peers at once
//! let title: Option<String> = list.get("title").await?;
//! assert_eq!(title.as_deref(), Some("Groceries"));
//!
//! // Rich, merge-friendly edits through Automerge itself.
//! list.change(|tx| {
//!     use humansync::automerge::{ObjType, ROOT, transaction::Transactable};
//!     let body = tx.put_object(ROOT, "body", ObjType::Text).map_err(|e| e.to_string())?;
//!     tx.splice_text(&body, 0, 0, "milk, eggs").map_err(|e| e.to_string())
//! })
//! .await?;
//!
//! let photo = node.store_blob(std::path::Path::new("photo.jpg")).await?;
//! list.put_blob("photo", photo).await?; // every device fetches it
//! let local_copy = node.get_blob(photo).await?;
//!
//! let mut events = node.events();
//! tokio::spawn(async move {
//!     while let Ok(event) = events.recv().await {
//!         println!("{event:?}"); // refresh the UI
//!     }
//! });
//! println!("{:?} {:?}", node.list_docs("notes/").await?, node.sync_status().await?);
//! # let _ = local_copy;
//! node.shutdown().await?;
//! # Ok(()) }
//! ```

mod anchor;
mod at_rest;
mod blob_progress;
mod config;
mod devices;
mod discovery;
mod doc;
mod driver;
mod error;
mod http_client;
pub mod identity;
mod invite;
pub mod keys;
mod login;
mod node;
mod pairing;
mod private_dir;
mod shutdown_budget;
mod stats;
mod stop_signal;
pub mod store;
pub mod transport;

pub use anchor::PeerAddrs;
pub use at_rest::{move_device_keys, open_store, open_stores, rekey_storage, rotate_device_key};
pub use automerge;
pub use blob_progress::BlobProgress;
pub use config::{ConfigError, HumanSyncConfig, RelayConfig};
pub use devices::{DeviceInfo, DeviceRole};
pub use doc::{Doc, FromValue};
pub use error::Error;
pub use humansync_protocol as protocol;
pub use humansync_protocol::invitation::Invitation;
pub use humansync_protocol::{BlobHash, DeviceId, DocId};
pub use humansync_sansio::registry::{DeviceStatus, Registry};
pub use humansync_sansio::{Event, Origin};
pub use invite::{render_qr, render_qr_svg};
pub use keys::{DataKey, KeyPlace, KeySource, KeychainError};
pub use node::{Node, PeerStatus, SyncStatus, init};
pub use private_dir::private_dir;
pub use shutdown_budget::ShutdownBudget;
pub use stats::{BlobStats, NodeStats, NodeTotals, SessionCounters};
pub use stop_signal::StopSignal;
