//! The server's registry operations: sign a record, store it durably in SQLite, then hand it to
//! the cloud peer, which puts it into `_devices`, pushes it and enforces it (SPEC.md §4, §5).
//!
//! SQLite is the durable source of truth: a record is answered to a client only after its commit,
//! and on start-up every stored record is re-inserted into the node ([`Registry::restore`]).

use std::sync::Arc;

use humansync::{Node, PeerAddrs};
use humansync_protocol::http::DeviceInfo;
use humansync_protocol::limits::MAX_REGISTRY_RECORDS;
use humansync_protocol::{DeviceId, RegistryRecord, SignedRecord};
use tokio::sync::Mutex;

use crate::db::{Db, DbError, RecordKind};

/// Errors of registry operations (all are server faults: 500 `internal`).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The cloud peer failed or has stopped.
    #[error("node: {0}")]
    Node(#[from] humansync::Error),
    /// HS-REG-11: the anchor signed `MAX_REGISTRY_RECORDS / 2` Device records already.
    #[error("the registry is full ({0} devices)")]
    Full(u64),
}

/// The registry: the SQLite store and the cloud peer that enforces it. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    db: Db,
    node: Node,
    /// Serialises signing, so that check-then-sign cannot race (HS-REG-11).
    writes: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("node", &self.node.id())
            .finish_non_exhaustive()
    }
}

/// What [`Registry::register`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// A new Device record was signed.
    New(SignedRecord),
    /// The device was registered already: its existing record (HS-HTTP-2 idempotence).
    Existing(SignedRecord),
}

impl Registry {
    /// A registry over `db` enforced by `node` (an anchor node).
    pub fn new(db: Db, node: Node) -> Registry {
        Registry {
            db,
            node,
            writes: Arc::new(Mutex::new(())),
        }
    }

    /// The cloud peer.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Re-inserts every stored record after row `after` into the node; returns the last row seen.
    /// Run at start-up (after = 0) and periodically, so records written by the
    /// `devices revoke` command on the same data directory take effect in a running server.
    pub async fn restore(&self, after: i64) -> Result<i64, RegistryError> {
        let mut last = after;
        for stored in self.db.records_after(after).await? {
            if let Err(e) = self.node.add_signed_record(stored.record.clone()).await {
                tracing::error!(
                    seq = stored.seq,
                    "stored registry record refused by the node: {e}"
                );
            }
            last = stored.seq;
        }
        Ok(last)
    }

    /// Signs and stores a Device record for `device` named `name`, unless one exists (HS-REG-11).
    pub async fn register(
        &self,
        device: DeviceId,
        name: String,
        now_ms: u64,
    ) -> Result<Registered, RegistryError> {
        let _write = self.writes.lock().await;
        if let Some(existing) = self.db.record_of(&device, RecordKind::Device).await? {
            return Ok(Registered::Existing(existing));
        }
        let count = self.db.device_count().await?;
        if count >= (MAX_REGISTRY_RECORDS / 2) as u64 {
            return Err(RegistryError::Full(count));
        }
        let parsed = RegistryRecord::Device {
            device,
            name,
            paired_at_ms: now_ms,
        };
        let record = self.node.sign_record(&parsed)?;
        if !self.db.insert(&record, &parsed).await? {
            // Another process (the CLI) signed one meanwhile: return that one.
            let existing = self.db.record_of(&device, RecordKind::Device).await?;
            return existing
                .map(Registered::Existing)
                .ok_or(RegistryError::Full(count));
        }
        self.node.add_signed_record(record.clone()).await?;
        Ok(Registered::New(record))
    }

    /// Signs and stores a Revoked record for `device`, or returns the existing one (HS-HTTP-4).
    /// The node closes the device's connections before this returns (HS-GATE-4).
    pub async fn revoke(&self, device: DeviceId, now_ms: u64) -> Result<SignedRecord, RegistryError> {
        let _write = self.writes.lock().await;
        if let Some(existing) = self.db.record_of(&device, RecordKind::Revoked).await? {
            // Make sure the node has it (it may come from the CLI and not be polled yet).
            self.node.add_signed_record(existing.clone()).await?;
            return Ok(existing);
        }
        let parsed = RegistryRecord::Revoked {
            device,
            revoked_at_ms: now_ms,
        };
        let record = self.node.sign_record(&parsed)?;
        if !self.db.insert(&record, &parsed).await?
            && let Some(existing) = self.db.record_of(&device, RecordKind::Revoked).await?
        {
            // Another process (the CLI) signed one meanwhile: that one stands.
            self.node.add_signed_record(existing.clone()).await?;
            return Ok(existing);
        }
        self.node.add_signed_record(record.clone()).await?;
        Ok(record)
    }

    /// The node's registry view alone (cheap: no DeviceInfo list, no hex).
    pub async fn view(&self) -> Result<humansync::Registry, RegistryError> {
        Ok(self.node.registry().await?)
    }

    /// Every registered and revoked device with the addresses it was last seen at, and every
    /// record of the view as hex (HS-HTTP-2, HS-HTTP-3).
    pub async fn snapshot(&self) -> Result<Snapshot, RegistryError> {
        let view = self.node.registry().await?;
        let addrs: PeerAddrs = self.node.peer_addrs().await?;
        let devices = view
            .devices()
            .map(|(id, status)| DeviceInfo {
                node_id: *id,
                name: status.name.clone(),
                paired_at_ms: status.paired_at_ms,
                revoked_at_ms: status.revoked_at_ms,
                addrs: addrs
                    .get(id)
                    .map(|a| a.iter().map(|a| a.to_string()).collect())
                    .unwrap_or_default(),
            })
            .collect();
        let records = view.records().map(|r| hex::encode(r.encode())).collect();
        Ok(Snapshot {
            view,
            devices,
            records,
        })
    }
}

/// The registry as the API shows it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The node's registry view.
    pub view: humansync::Registry,
    /// DeviceInfo of every device any record names.
    pub devices: Vec<DeviceInfo>,
    /// Every record, hex of postcard(SignedRecord).
    pub records: Vec<String>,
}
