//! The server password: stored only as an argon2id PHC string, checked in constant time
//! (HS-PAIR-1).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::db::{Db, DbError};

/// argon2id memory cost in KiB: 19 MiB, OWASP's minimum (HS-PAIR-1).
pub const ARGON2_M_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const ARGON2_T: u32 = 2;
/// argon2id lanes.
pub const ARGON2_P: u32 = 1;
/// Password checks running at once; each holds `ARGON2_M_KIB` of memory.
const CONCURRENT_CHECKS: usize = 2;
/// The settings row holding the PHC string.
const SETTING: &str = "password_hash";
/// The user name HTTP Basic credentials must carry (HS-HTTP-4).
pub const ADMIN_USER: &str = "admin";

/// Errors of the password store.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// No password was given and none is stored yet.
    #[error("no password configured: pass --password (or HUMANSYNC_PASSWORD) on the first start")]
    Missing,
    /// The password is empty.
    #[error("the password must not be empty")]
    Empty,
    /// Hashing failed, or the stored hash is not a valid argon2id PHC string.
    #[error("password hash: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The stored password hash and a bounded checker. Cheap to clone.
#[derive(Clone)]
pub struct PasswordCheck {
    phc: Arc<str>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for PasswordCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordCheck(argon2id)")
    }
}

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` as an argon2id PHC string with a fresh random salt (HS-PAIR-1).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks `password` against a PHC string: argon2id recomputation and a constant-time comparison
/// of the outputs (HS-PAIR-1). Refuses any hash that is not argon2id.
pub fn verify_phc(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return false;
    }
    // argon2's verifier recomputes with the stored parameters and compares in constant time.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

impl PasswordCheck {
    /// Loads the stored hash; with `password`, replaces it unless it already matches (a changed
    /// `--password` takes effect at start). The password itself is never stored.
    pub async fn load_or_set(db: &Db, password: Option<&str>) -> Result<PasswordCheck, PasswordError> {
        let stored = db.setting(SETTING).await?;
        let phc = match (stored, password) {
            (_, Some("")) => return Err(PasswordError::Empty),
            (None, None) => return Err(PasswordError::Missing),
            (Some(phc), None) => phc,
            (stored, Some(password)) => {
                let (password, keep) = (password.to_owned(), stored.clone());
                let phc = tokio::task::spawn_blocking(move || match keep {
                    Some(phc) if verify_phc(&phc, &password) => Ok(phc),
                    _ => hash_password(&password),
                })
                .await
                .map_err(|e| PasswordError::Hash(e.to_string()))??;
                if stored.as_deref() != Some(phc.as_str()) {
                    db.set_setting(SETTING, &phc).await?;
                    tracing::info!("stored a new argon2id password hash");
                }
                phc
            }
        };
        PasswordHash::new(&phc).map_err(|e| PasswordError::Hash(format!("stored hash is invalid: {e}")))?;
        Ok(PasswordCheck {
            phc: phc.into(),
            permits: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
        })
    }

    /// The PHC string (for tests and the admin; it is not secret the way the password is, but
    /// is never logged).
    pub fn phc(&self) -> &str {
        &self.phc
    }

    /// Checks a password off the async threads, at most `CONCURRENT_CHECKS` at once.
    pub async fn verify(&self, password: String) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let phc = self.phc.clone();
        tokio::task::spawn_blocking(move || verify_phc(&phc, &password))
            .await
            .unwrap_or(false)
    }

    /// Checks HTTP Basic credentials `user:password` (HS-HTTP-4): the user name in constant time,
    /// and the password with argon2id even when the user name is wrong.
    pub async fn verify_admin(&self, user: &[u8], password: String) -> bool {
        let user_ok: bool = user.ct_eq(ADMIN_USER.as_bytes()).into();
        let password_ok = self.verify(password).await;
        user_ok & password_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_phc_with_the_minimum_parameters() {
        // HS-PAIR-1
        let phc = hash_password("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_phc(&phc, "correct horse"));
        assert!(!verify_phc(&phc, "correct horsf"));
        assert!(!verify_phc("not a phc", "correct horse"));
    }

    #[test]
    fn other_algorithms_are_refused() {
        let phc = hash_password("pw")
            .expect("hash")
            .replacen("argon2id", "argon2i", 1);
        assert!(!verify_phc(&phc, "pw"));
    }
}
