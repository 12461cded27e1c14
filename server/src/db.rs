//! The SQLite device registry: every record the server signed, and its settings (SPEC.md §4, §5).
//!
//! Durability: WAL journal with `synchronous=FULL`, so a commit is on disk when it returns (the
//! server answers a pairing or a revocation only after that). Migrations are SQL files embedded
//! in the binary and applied in order, tracked by SQLite's `user_version`; queries are runtime
//! `sqlx::query` calls (no compile-time database needed).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use humansync_protocol::{DeviceId, RegistryRecord, SignedRecord};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The embedded migrations: (version, SQL). Append only; never edit a shipped one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_registry.sql")),
    (2, include_str!("../migrations/0002_invitations.sql")),
];

/// Errors of the registry database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] sqlx::Error),
    /// A stored record does not decode (the file was edited or is corrupt).
    #[error("stored registry record {seq} is corrupt")]
    CorruptRecord {
        /// Its row.
        seq: i64,
    },
    /// The database was written by a newer server.
    #[error("database schema version {0} is newer than this server understands")]
    TooNew(i64),
}

/// Creates `path` with mode 0600 if it is missing, and narrows an existing file to 0600.
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// One stored record.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// Row order (signing order).
    pub seq: i64,
    /// The signed record.
    pub record: SignedRecord,
}

/// Which kind of record (HS-REG-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// `RegistryRecord::Device`.
    Device,
    /// `RegistryRecord::Revoked`.
    Revoked,
}

impl RecordKind {
    fn as_str(self) -> &'static str {
        match self {
            RecordKind::Device => "device",
            RecordKind::Revoked => "revoked",
        }
    }
}

/// The registry database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating if needed) `path`, sets WAL + synchronous=FULL and applies migrations.
    /// The file is created 0600 (an existing one is narrowed to 0600), so that SQLite gives its
    /// `-wal` and `-shm` files the same mode (issue 16 §3).
    pub async fn open(path: &Path) -> Result<Db, DbError> {
        private_file(path).map_err(|e| DbError::Sqlite(sqlx::Error::Io(e)))?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let db = Db { pool };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        let current: i64 = sqlx::query("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let latest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
        if current > latest {
            return Err(DbError::TooNew(current));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query(&format!("PRAGMA user_version = {version}"))
                .execute(&mut *tx)
                .await?;
            tracing::info!(version, "applied registry migration");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every record in signing order, or those after row `after`.
    pub async fn records_after(&self, after: i64) -> Result<Vec<StoredRecord>, DbError> {
        let rows = sqlx::query("SELECT seq, record FROM records WHERE seq > ? ORDER BY seq")
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get(0)?;
                let bytes: Vec<u8> = row.try_get(1)?;
                let record = SignedRecord::decode(&bytes).map_err(|_| DbError::CorruptRecord { seq })?;
                Ok(StoredRecord { seq, record })
            })
            .collect()
    }

    /// The stored record of `kind` about `device`, if any (HS-REG-11: at most one).
    pub async fn record_of(
        &self,
        device: &DeviceId,
        kind: RecordKind,
    ) -> Result<Option<SignedRecord>, DbError> {
        let row = sqlx::query("SELECT seq, record FROM records WHERE device = ? AND kind = ?")
            .bind(device.to_string())
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let seq: i64 = row.try_get(0)?;
            let bytes: Vec<u8> = row.try_get(1)?;
            SignedRecord::decode(&bytes).map_err(|_| DbError::CorruptRecord { seq })
        })
        .transpose()
    }

    /// How many Device records are stored (HS-REG-11's cap).
    pub async fn device_count(&self) -> Result<u64, DbError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM records WHERE kind = 'device'")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Durably stores a record the server signed. Returns `false`, storing nothing, when a
    /// record of the same kind about the same device already exists (HS-REG-11).
    pub async fn insert(&self, record: &SignedRecord, parsed: &RegistryRecord) -> Result<bool, DbError> {
        let (kind, at_ms) = match parsed {
            RegistryRecord::Device { paired_at_ms, .. } => (RecordKind::Device, *paired_at_ms),
            RegistryRecord::Revoked { revoked_at_ms, .. } => (RecordKind::Revoked, *revoked_at_ms),
        };
        let done = sqlx::query(
            "INSERT INTO records (key, device, kind, at_ms, record) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(record.key())
        .bind(parsed.device().to_string())
        .bind(kind.as_str())
        .bind(i64::try_from(at_ms).unwrap_or(i64::MAX))
        .bind(record.encode())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A setting's value.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Durably sets a setting.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a setting.
    pub async fn delete_setting(&self, name: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM settings WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The pool, for the modules that keep their own tables ([`crate::invitations`]).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
