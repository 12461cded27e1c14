//! The `devices` subcommands: the registry in the data directory, for admins who prefer a CLI to
//! curl. They work with the server running or stopped: a revocation is stored in SQLite and a
//! running server applies it within seconds.

use std::path::Path;

use ed25519_dalek::SigningKey;
use humansync_protocol::http::DeviceInfo;
use humansync_protocol::{DeviceId, RegistryRecord};

use crate::db::{Db, DbError, RecordKind};
use crate::server::{DB_FILE, NODE_DIR};

/// Errors of the admin commands.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The data directory holds no server identity yet (the server never started there).
    #[error("no server identity in {0}: start the server once first")]
    NoIdentity(String),
    /// The identity key is unreadable.
    #[error("server identity: {0}")]
    Identity(String),
    /// The argument is not a device id.
    #[error("{0:?} is not a device id (64 hex characters)")]
    BadId(String),
    /// No Device record names the id.
    #[error("device {0} is not registered")]
    NotFound(DeviceId),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(String),
}

/// The server's signing key from the data directory.
pub fn server_key(data_dir: &Path) -> Result<SigningKey, AdminError> {
    let dir = data_dir.join(NODE_DIR);
    if !dir.join("identity.key").exists() {
        return Err(AdminError::NoIdentity(dir.display().to_string()));
    }
    let secret = humansync::identity::load_or_create_identity(&dir, || [0; 32])
        .map_err(|e| AdminError::Identity(e.to_string()))?;
    Ok(SigningKey::from_bytes(&secret))
}

/// Every device the stored records name, verified with the server's key.
pub async fn list(data_dir: &Path) -> Result<Vec<DeviceInfo>, AdminError> {
    let key = server_key(data_dir)?;
    let anchor = DeviceId::from(&key);
    let db = Db::open(&data_dir.join(DB_FILE)).await?;
    let mut view = humansync::Registry::new(Some(anchor));
    for stored in db.records_after(0).await? {
        if let Err(e) = view.insert(&stored.record) {
            tracing::warn!(seq = stored.seq, "stored record ignored: {e}");
        }
    }
    db.close().await;
    Ok(view
        .devices()
        .map(|(id, s)| DeviceInfo {
            node_id: *id,
            name: s.name.clone(),
            paired_at_ms: s.paired_at_ms,
            revoked_at_ms: s.revoked_at_ms,
            addrs: Vec::new(),
        })
        .collect())
}

/// Revokes `raw_id`: signs and stores a Revoked record unless one exists (HS-REG-11). Returns
/// the record's `revoked_at_ms` and whether it was new.
pub async fn revoke(data_dir: &Path, raw_id: &str, now_ms: u64) -> Result<(u64, bool), AdminError> {
    let device: DeviceId = raw_id
        .trim()
        .parse()
        .map_err(|_| AdminError::BadId(raw_id.to_owned()))?;
    let key = server_key(data_dir)?;
    let anchor = DeviceId::from(&key);
    let db = Db::open(&data_dir.join(DB_FILE)).await?;
    let result = async {
        if device == anchor || db.record_of(&device, RecordKind::Device).await?.is_none() {
            return Err(AdminError::NotFound(device));
        }
        if let Some(existing) = db.record_of(&device, RecordKind::Revoked).await? {
            return Ok((revoked_at(&existing, &anchor), false));
        }
        let parsed = RegistryRecord::Revoked {
            device,
            revoked_at_ms: now_ms,
        };
        let record = parsed.sign(&key).map_err(|e| AdminError::Sign(e.to_string()))?;
        if db.insert(&record, &parsed).await? {
            return Ok((now_ms, true));
        }
        let existing = db
            .record_of(&device, RecordKind::Revoked)
            .await?
            .ok_or(AdminError::NotFound(device))?;
        Ok((revoked_at(&existing, &anchor), false))
    }
    .await;
    db.close().await;
    result
}

fn revoked_at(record: &humansync_protocol::SignedRecord, anchor: &DeviceId) -> u64 {
    match record.verify(anchor) {
        Ok(RegistryRecord::Revoked { revoked_at_ms, .. }) => revoked_at_ms,
        _ => 0,
    }
}
