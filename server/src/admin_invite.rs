//! The `invite` and `invites` subcommands (HS-INV-1, HS-INV-6): mint an invitation on the server
//! host, list and revoke them. Like `devices revoke`, they work on the data directory with the
//! server running or stopped.

use std::path::Path;

use humansync_protocol::DeviceId;
use humansync_protocol::invitation::{Invitation, MAX_LINK_ADDRS};

use crate::admin::{AdminError, server_key};
use crate::db::Db;
use crate::invitations::{self, InvitationRow, MintError, Minter};
use crate::server::DB_FILE;

/// The settings row where a running server keeps the addresses it announces (for links).
pub const ANNOUNCED_ADDRS_SETTING: &str = "announced_addrs";

/// Errors of the invitation commands.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// The data directory or the database failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// Minting was refused.
    #[error(transparent)]
    Mint(#[from] MintError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// No URL for the link.
    #[error("{0}")]
    Url(String),
    /// No randomness.
    #[error("no OS randomness: {0}")]
    Random(String),
}

/// Mints an invitation valid `ttl_ms` for devices reaching the server at `url`.
pub async fn mint(data_dir: &Path, url: &str, ttl_ms: u64, now_ms: u64) -> Result<Invitation, InviteError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 1024 {
        return Err(InviteError::Url(format!(
            "{url:?} is not an http(s) URL: give the address devices use to reach this server, e.g. --url http://192.168.1.10:8080"
        )));
    }
    let key = server_key(data_dir)?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| InviteError::Random(e.to_string()))?;
    let db = Db::open(&data_dir.join(DB_FILE))
        .await
        .map_err(AdminError::from)?;
    let result = async {
        let addrs: Vec<String> = db
            .setting(ANNOUNCED_ADDRS_SETTING)
            .await?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let mut invitation = Invitation {
            url: url.trim_end_matches('/').to_owned(),
            server: DeviceId::from(&key),
            secret,
            expires_at_ms: 0,
            addrs: addrs
                .into_iter()
                .filter(|a| a.parse::<std::net::SocketAddr>().is_ok())
                .take(MAX_LINK_ADDRS)
                .collect(),
        };
        invitation.expires_at_ms = invitations::mint(&db, &invitation.id(), Minter::Host, now_ms, ttl_ms).await?;
        tracing::info!(target: "humansync::audit", action = "invite", invitation = %invitation.id(), minted_by = "host", expires_at_ms = invitation.expires_at_ms, outcome = "ok");
        Ok(invitation)
    }
    .await;
    db.close().await;
    result
}

/// Every invitation, newest first.
pub async fn list(data_dir: &Path) -> Result<Vec<InvitationRow>, InviteError> {
    let db = Db::open(&data_dir.join(DB_FILE))
        .await
        .map_err(AdminError::from)?;
    let rows = invitations::list(&db).await;
    db.close().await;
    Ok(rows?)
}

/// Revokes the unused invitations whose id starts with `prefix` (at least 8 hex characters).
pub async fn revoke(data_dir: &Path, prefix: &str, now_ms: u64) -> Result<u64, InviteError> {
    let db = Db::open(&data_dir.join(DB_FILE))
        .await
        .map_err(AdminError::from)?;
    let n = invitations::revoke(&db, prefix, now_ms).await;
    db.close().await;
    Ok(n?)
}
