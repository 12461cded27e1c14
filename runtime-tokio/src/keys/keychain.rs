//! The OS keychain (HS-REST-2): the freedesktop Secret Service on Linux and the BSDs (over D-Bus,
//! through `zbus-secret-service-keyring-store`), Keychain Services on macOS, the Credential
//! Manager on Windows, all behind `keyring-core`.
//!
//! A [`Keychain`] is one connection, made for one batch of calls (a start, a move) and dropped:
//! nothing is cached in a global, so a keychain that becomes reachable later is found by the next
//! start. Every call blocks (D-Bus round trips, and an unlock prompt on a desktop); call it off
//! the async runtime. Secrets are kept as 64 hex digits (some stores accept only text).

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use zeroize::Zeroizing;

/// The keychain service name every HumanSync entry is filed under.
pub const KEYCHAIN_SERVICE: &str = "humansync";

/// Longest secret read back from the keychain: 64 hex digits and some whitespace. Anything
/// longer is not ours and is refused before it is decoded.
const MAX_SECRET_LEN: usize = 128;

/// Why the keychain could not be used. All are local faults; none changes anything on disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeychainError {
    /// No keychain is reachable: no session bus, no Secret Service on it, or a platform without
    /// a supported store (a headless server, a container).
    #[error("no OS keychain is reachable: {0}")]
    Unavailable(String),
    /// The keychain is locked and was not unlocked (the prompt was dismissed or could not be
    /// shown), or the store refused access.
    #[error("the OS keychain is locked or refused access (unlock it and start again): {0}")]
    Locked(String),
    /// A key recorded as kept in the keychain is not there (deleted from the keychain, or a
    /// different keychain or user session).
    #[error("keychain entry {entry:?} ({KEYCHAIN_SERVICE}) is missing")]
    Missing {
        /// The entry's user name.
        entry: String,
    },
    /// A keychain entry does not hold 64 hex digits.
    #[error("keychain entry {entry:?} ({KEYCHAIN_SERVICE}) does not hold a 256-bit key")]
    Malformed {
        /// The entry's user name.
        entry: String,
    },
    /// A key written to the keychain read back different (nothing was removed).
    #[error("keychain entry {entry:?} ({KEYCHAIN_SERVICE}) did not read back what was written")]
    NotVerified {
        /// The entry's user name.
        entry: String,
    },
    /// Any other failure of the keychain.
    #[error("OS keychain: {0}")]
    Failed(String),
}

impl KeychainError {
    fn from_store(e: keyring_core::Error) -> KeychainError {
        match e {
            keyring_core::Error::NoStorageAccess(inner) => KeychainError::Locked(inner.to_string()),
            keyring_core::Error::PlatformFailure(inner) => KeychainError::Failed(inner.to_string()),
            other => KeychainError::Failed(other.to_string()),
        }
    }
}

/// A connection to the OS keychain.
pub struct Keychain {
    store: Arc<CredentialStore>,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keychain")
    }
}

impl Keychain {
    /// Connects to the platform's keychain. On Linux this opens the session bus named by
    /// `DBUS_SESSION_BUS_ADDRESS` and a session with the Secret Service; it fails with
    /// [`KeychainError::Unavailable`] when there is none (it does not unlock anything yet).
    pub fn connect() -> Result<Keychain, KeychainError> {
        platform_store()
            .map(|store| Keychain { store })
            .map_err(|e| KeychainError::Unavailable(e.to_string()))
    }

    fn entry(&self, name: &str, label: &str) -> Result<Entry, KeychainError> {
        let mut modifiers = HashMap::new();
        if cfg!(all(
            unix,
            not(any(target_os = "macos", target_os = "ios", target_os = "android"))
        )) {
            // The Secret Service store shows the label in the keyring's UI.
            modifiers.insert("label", label);
        }
        Entry::new_in_store_with_modifiers(&self.store, KEYCHAIN_SERVICE, name, &modifiers)
            .map_err(KeychainError::from_store)
    }

    /// The key kept under `name`, `None` when there is no such entry.
    pub fn get(&self, name: &str) -> Result<Option<Zeroizing<[u8; 32]>>, KeychainError> {
        let entry = self.entry(name, name)?;
        let text = match entry.get_password() {
            Ok(text) => Zeroizing::new(text),
            Err(keyring_core::Error::NoEntry) => return Ok(None),
            Err(keyring_core::Error::BadEncoding(_)) => {
                return Err(KeychainError::Malformed {
                    entry: name.to_owned(),
                });
            }
            Err(e) => return Err(KeychainError::from_store(e)),
        };
        let malformed = || KeychainError::Malformed {
            entry: name.to_owned(),
        };
        if text.len() > MAX_SECRET_LEN {
            return Err(malformed());
        }
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), &mut key[..]).map_err(|_| malformed())?;
        Ok(Some(key))
    }

    /// Keeps `key` under `name` (replacing what was there), labelled `label` where the store
    /// shows labels, then reads it back: [`KeychainError::NotVerified`] when the copy differs.
    pub fn put(&self, name: &str, label: &str, key: &[u8; 32]) -> Result<(), KeychainError> {
        let entry = self.entry(name, label)?;
        let text = Zeroizing::new(hex::encode(key));
        entry.set_password(&text).map_err(KeychainError::from_store)?;
        match self.get(name)? {
            Some(copy) if *copy == *key => Ok(()),
            _ => Err(KeychainError::NotVerified {
                entry: name.to_owned(),
            }),
        }
    }

    /// Removes the entry `name`; removing an absent entry is not an error.
    pub fn delete(&self, name: &str) -> Result<(), KeychainError> {
        match self.entry(name, name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(KeychainError::from_store(e)),
        }
    }
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(not(any(
    all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))),
    target_os = "macos",
    target_os = "windows"
)))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NotSupportedByStore(
        "no OS keychain store is built for this platform".to_owned(),
    ))
}
