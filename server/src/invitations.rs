//! One-time invitations in the registry database (HS-INV-1..6): minted by the host CLI or a
//! registered device, redeemed once before they expire, listed and revoked by the host CLI.

use humansync_protocol::DeviceId;
use humansync_protocol::invitation::{INVITATION_DEFAULT_TTL_MS, INVITATION_MAX_TTL_MS};
use humansync_protocol::login::Hex;
use serde::Serialize;
use sqlx::Row;

use crate::db::{Db, DbError};

/// Who minted an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minter {
    /// `humansync-server invite` on the server host.
    Host,
    /// A registered device, by a signed request.
    Device(DeviceId),
}

impl Minter {
    fn to_text(self) -> String {
        match self {
            Minter::Host => "host".into(),
            Minter::Device(id) => id.to_string(),
        }
    }

    fn from_text(text: &str) -> Minter {
        text.parse().map_or(Minter::Host, Minter::Device)
    }
}

/// One stored invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitationRow {
    /// The id (public key), hex.
    pub id: String,
    /// When minted, unix ms.
    pub created_at_ms: u64,
    /// When it expires, unix ms.
    pub expires_at_ms: u64,
    /// `host` or the minting device's id.
    pub minted_by: String,
    /// When it was redeemed.
    pub used_at_ms: Option<u64>,
    /// By which device.
    pub used_by: Option<String>,
    /// When it was revoked.
    pub revoked_at_ms: Option<u64>,
}

impl InvitationRow {
    /// The minter.
    pub fn minter(&self) -> Minter {
        Minter::from_text(&self.minted_by)
    }

    /// `active`, `used`, `revoked` or `expired` at `now_ms`.
    pub fn state(&self, now_ms: u64) -> &'static str {
        if self.used_at_ms.is_some() {
            "used"
        } else if self.revoked_at_ms.is_some() {
            "revoked"
        } else if now_ms >= self.expires_at_ms {
            "expired"
        } else {
            "active"
        }
    }
}

/// The lifetime granted for a requested one: the default when absent, capped at the maximum.
pub fn granted_ttl_ms(requested: Option<u64>) -> u64 {
    requested
        .unwrap_or(INVITATION_DEFAULT_TTL_MS)
        .clamp(1_000, INVITATION_MAX_TTL_MS)
}

pub use humansync_protocol::limits::MAX_ACTIVE_INVITATIONS;

/// Why an invitation cannot be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// [`MAX_ACTIVE_INVITATIONS`] are active already.
    #[error("{MAX_ACTIVE_INVITATIONS} invitations are active already: revoke some or let them expire")]
    TooMany,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

fn db_err(e: sqlx::Error) -> DbError {
    DbError::Sqlite(e)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Stores a new invitation valid until `now_ms + ttl_ms`; returns its expiry.
pub async fn mint(db: &Db, id: &Hex<32>, minter: Minter, now_ms: u64, ttl_ms: u64) -> Result<u64, MintError> {
    let active: i64 = sqlx::query(
        "SELECT COUNT(*) FROM invitations WHERE used_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > ?",
    )
    .bind(to_i64(now_ms))
    .fetch_one(db.pool())
    .await
    .and_then(|r| r.try_get(0))
    .map_err(db_err)?;
    if to_u64(active) >= MAX_ACTIVE_INVITATIONS {
        return Err(MintError::TooMany);
    }
    let expires = now_ms.saturating_add(ttl_ms);
    sqlx::query("INSERT INTO invitations (id, created_at_ms, expires_at_ms, minted_by) VALUES (?, ?, ?, ?)")
        .bind(id.to_string())
        .bind(to_i64(now_ms))
        .bind(to_i64(expires))
        .bind(minter.to_text())
        .execute(db.pool())
        .await
        .map_err(db_err)?;
    Ok(expires)
}

fn row(r: &sqlx::sqlite::SqliteRow) -> Result<InvitationRow, sqlx::Error> {
    Ok(InvitationRow {
        id: r.try_get(0)?,
        created_at_ms: to_u64(r.try_get(1)?),
        expires_at_ms: to_u64(r.try_get(2)?),
        minted_by: r.try_get(3)?,
        used_at_ms: r.try_get::<Option<i64>, _>(4)?.map(to_u64),
        used_by: r.try_get(5)?,
        revoked_at_ms: r.try_get::<Option<i64>, _>(6)?.map(to_u64),
    })
}

const COLUMNS: &str = "id, created_at_ms, expires_at_ms, minted_by, used_at_ms, used_by, revoked_at_ms";

/// One invitation by id.
pub async fn get(db: &Db, id: &Hex<32>) -> Result<Option<InvitationRow>, DbError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM invitations WHERE id = ?"))
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await
        .map_err(db_err)?
        .as_ref()
        .map(row)
        .transpose()
        .map_err(db_err)
}

/// Every invitation, newest first.
pub async fn list(db: &Db) -> Result<Vec<InvitationRow>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM invitations ORDER BY created_at_ms DESC"
    ))
    .fetch_all(db.pool())
    .await
    .map_err(db_err)?;
    rows.iter().map(row).collect::<Result<_, _>>().map_err(db_err)
}

/// Revokes invitations whose id starts with `prefix` (at least 8 hex characters) and are
/// neither used nor revoked; returns how many.
pub async fn revoke(db: &Db, prefix: &str, now_ms: u64) -> Result<u64, DbError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.len() < 8 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE invitations SET revoked_at_ms = ? WHERE substr(id, 1, ?) = ? AND used_at_ms IS NULL AND revoked_at_ms IS NULL",
    )
    .bind(to_i64(now_ms))
    .bind(i64::try_from(prefix.len()).unwrap_or(64))
    .bind(&prefix)
    .execute(db.pool())
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}

/// Marks the invitation used by `device`, if it is still active at `now_ms`. Atomic: of two
/// concurrent redemptions exactly one succeeds (HS-INV-5).
pub async fn consume(db: &Db, id: &Hex<32>, device: &DeviceId, now_ms: u64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE invitations SET used_at_ms = ?, used_by = ? \
         WHERE id = ? AND used_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > ?",
    )
    .bind(to_i64(now_ms))
    .bind(device.to_string())
    .bind(id.to_string())
    .bind(to_i64(now_ms))
    .execute(db.pool())
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected() == 1)
}
