//! The server password as an OPAQUE registration record (HS-PAIR-1): created from the configured
//! password at first start and whenever the password changes; the password itself and any plain
//! hash of it are never stored. A version-1 data directory's argon2id hash is replaced by a
//! record the first time the server starts with the password.

use std::sync::Arc;

use humansync_sansio::pairing::pake::{PakeRng, PasswordRecord, ServerKeys};

use crate::db::{Db, DbError};

/// The settings row holding the server's OPAQUE keys (hex).
const KEYS_SETTING: &str = "opaque_server_keys";
/// The settings row holding the OPAQUE password record (hex).
const RECORD_SETTING: &str = "opaque_password_record";
/// The settings row of a version-1 server: an argon2id PHC string of the password.
const LEGACY_SETTING: &str = "password_hash";

/// Errors of the password store.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// No password was given and none is stored yet.
    #[error(
        "no password configured: give it once with --password-file FILE (or HUMANSYNC_PASSWORD_FILE, a Docker secret, or --password)"
    )]
    Missing,
    /// Only a version-1 argon2id hash is stored: the OPAQUE record needs the password once.
    #[error(
        "this data directory holds a password hash of HumanSync 0.1 (argon2id); pairing now uses OPAQUE, whose record must be created from the password itself: start the server once with --password-file FILE (or HUMANSYNC_PASSWORD_FILE / --password)"
    )]
    LegacyNeedsPassword,
    /// The password is empty.
    #[error("the password must not be empty")]
    Empty,
    /// The stored keys or record are corrupt.
    #[error("stored OPAQUE state: {0}")]
    Corrupt(String),
    /// Randomness or a worker thread failed.
    #[error("password set-up: {0}")]
    Internal(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// An RNG seeded from the operating system.
pub fn os_rng() -> Result<PakeRng, PasswordError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| PasswordError::Internal(e.to_string()))?;
    Ok(PakeRng::from_seed(seed))
}

/// The server's OPAQUE keys and password record. Cheap to clone.
#[derive(Clone)]
pub struct PasswordStore {
    keys: Arc<ServerKeys>,
    record: Arc<PasswordRecord>,
}

impl std::fmt::Debug for PasswordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordStore(OPAQUE)")
    }
}

/// What [`PasswordStore::load_or_set`] did, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSetup {
    /// The stored record was used as it is.
    Kept,
    /// First start: a record was created.
    Created,
    /// The configured password no longer matched the record: a new record replaced it.
    Changed,
    /// A version-1 argon2id hash was replaced by a record.
    Migrated,
}

impl PasswordStore {
    /// Loads the stored record; with `password`, checks it against the record by a local login
    /// and registers it anew if it does not match (a changed password takes effect at start).
    pub async fn load_or_set(
        db: &Db,
        password: Option<&str>,
    ) -> Result<(PasswordStore, PasswordSetup), PasswordError> {
        if password == Some("") {
            return Err(PasswordError::Empty);
        }
        let keys = match db.setting(KEYS_SETTING).await? {
            Some(text) => {
                ServerKeys::from_bytes(&decode(&text)?).map_err(|e| PasswordError::Corrupt(e.to_string()))?
            }
            None => {
                let keys = ServerKeys::generate(&mut os_rng()?);
                db.set_setting(KEYS_SETTING, &hex::encode(keys.to_bytes()))
                    .await?;
                keys
            }
        };
        let stored = match db.setting(RECORD_SETTING).await? {
            Some(text) => Some(
                PasswordRecord::from_bytes(&decode(&text)?)
                    .map_err(|e| PasswordError::Corrupt(e.to_string()))?,
            ),
            None => None,
        };
        let legacy = db.setting(LEGACY_SETTING).await?.is_some();
        let keys = Arc::new(keys);
        let (record, setup) = match (stored, password) {
            (Some(record), None) => (record, PasswordSetup::Kept),
            (None, None) if legacy => return Err(PasswordError::LegacyNeedsPassword),
            (None, None) => return Err(PasswordError::Missing),
            (stored, Some(password)) => {
                let (keys2, password) = (keys.clone(), password.as_bytes().to_vec());
                let mut rng = os_rng()?;
                let (record, setup) = tokio::task::spawn_blocking(move || match stored {
                    Some(record) if record.matches(&keys2, &password, &mut rng) => {
                        Ok((record, PasswordSetup::Kept))
                    }
                    stored => PasswordRecord::register(&keys2, &password, &mut rng).map(|r| {
                        let setup = match (stored, legacy) {
                            (Some(_), _) => PasswordSetup::Changed,
                            (None, true) => PasswordSetup::Migrated,
                            (None, false) => PasswordSetup::Created,
                        };
                        (r, setup)
                    }),
                })
                .await
                .map_err(|e| PasswordError::Internal(e.to_string()))?
                .map_err(|e| PasswordError::Internal(e.to_string()))?;
                if setup != PasswordSetup::Kept {
                    db.set_setting(RECORD_SETTING, &hex::encode(record.to_bytes()))
                        .await?;
                }
                if legacy {
                    db.delete_setting(LEGACY_SETTING).await?;
                }
                (record, setup)
            }
        };
        match setup {
            PasswordSetup::Kept => tracing::info!("password: the stored OPAQUE record is in use"),
            PasswordSetup::Created => {
                tracing::info!("password: created the OPAQUE record (the password itself is not stored)")
            }
            PasswordSetup::Changed => tracing::warn!(
                "password: the configured password changed; replaced the OPAQUE record (devices already paired are unaffected)"
            ),
            PasswordSetup::Migrated => tracing::warn!(
                "password: migrated from the HumanSync 0.1 argon2id hash to an OPAQUE record; the old hash is deleted"
            ),
        }
        Ok((
            PasswordStore {
                keys,
                record: Arc::new(record),
            },
            setup,
        ))
    }

    /// The server's OPAQUE keys.
    pub fn keys(&self) -> &ServerKeys {
        &self.keys
    }

    /// The password record.
    pub fn record(&self) -> &PasswordRecord {
        &self.record
    }
}

fn decode(text: &str) -> Result<Vec<u8>, PasswordError> {
    hex::decode(text.trim()).map_err(|e| PasswordError::Corrupt(e.to_string()))
}
