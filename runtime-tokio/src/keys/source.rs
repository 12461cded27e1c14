//! Where a node's data key comes from (HS-REST-2).
//!
//! | source | used by | created when missing |
//! |---|---|---|
//! | [`KeySource::DeviceFile`] | devices (the default) | yes: `<storage>/data.key`, 0600 |
//! | [`KeySource::File`] | a server's mounted key or Docker secret | no |
//! | [`KeySource::Env`] | a server (`HUMANSYNC_DATA_KEY`) | no |
//! | [`KeySource::Passphrase`] | users who want one | salt file only |
//! | [`KeySource::Off`] | servers by default, tests | — |
//!
//! An OS keychain source is not built in this version (see README "Keys at rest"): the device
//! file sits next to `identity.key` with the same 0600 rules.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{DataKey, KeyError};

/// The device key file's name inside the storage directory.
pub const DATA_KEY_FILE: &str = "data.key";

/// The passphrase salt file's name inside the storage directory.
const SALT_FILE: &str = "data.key.salt";

/// Where the data key comes from. See the module docs for which is used where.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum KeySource {
    /// No encryption at rest.
    Off,
    /// `<storage>/data.key` (0600, like `identity.key`), created with a random key when missing.
    #[default]
    DeviceFile,
    /// A key file that must exist: 32 raw bytes or 64 hex digits (a mounted secret, e.g.
    /// `/run/secrets/humansync_data_key`). Never created.
    File(PathBuf),
    /// An environment variable holding 64 hex digits.
    Env(String),
    /// A passphrase, stretched with argon2id; the salt lives in `<storage>/data.key.salt`.
    Passphrase(Zeroizing<String>),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Off => f.write_str("Off"),
            KeySource::DeviceFile => f.write_str("DeviceFile"),
            KeySource::File(p) => write!(f, "File({})", p.display()),
            KeySource::Env(v) => write!(f, "Env({v})"),
            KeySource::Passphrase(_) => f.write_str("Passphrase(..)"),
        }
    }
}

impl std::str::FromStr for KeySource {
    type Err = String;

    /// `off`, `device`, `file:<path>` or `env:<VARIABLE>` (TOML `[storage] encryption`, server
    /// `--data-key`). Passphrases are given in code only, never in a configuration file.
    fn from_str(value: &str) -> Result<KeySource, String> {
        match value {
            "off" | "none" => Ok(KeySource::Off),
            "device" | "on" => Ok(KeySource::DeviceFile),
            _ => {
                if let Some(path) = value.strip_prefix("file:").filter(|p| !p.is_empty()) {
                    Ok(KeySource::File(PathBuf::from(path)))
                } else if let Some(var) = value.strip_prefix("env:").filter(|v| !v.is_empty()) {
                    Ok(KeySource::Env(var.to_owned()))
                } else {
                    Err(format!(
                        "encryption {value:?} is not `off`, `device`, `file:<path>` or `env:<VARIABLE>`"
                    ))
                }
            }
        }
    }
}

/// The data keys `source` offers for the store under `storage`: the current key and, for the
/// device file, a key a rotation was moving to (`data.key.next`), which the store's key check
/// tells apart. `Ok(None)` when encryption is off.
pub fn resolve(source: &KeySource, storage: &Path) -> Result<Option<Vec<DataKey>>, KeyError> {
    let key = match source {
        KeySource::Off => return Ok(None),
        KeySource::DeviceFile => {
            let path = storage.join(DATA_KEY_FILE);
            let mut fresh_error = None;
            let bytes = crate::identity::load_or_create_key(&path, || match DataKey::generate() {
                Ok(key) => *key.as_bytes(),
                Err(e) => {
                    fresh_error = Some(e);
                    [0; 32]
                }
            })?;
            if let Some(e) = fresh_error {
                return Err(e);
            }
            let mut keys = vec![DataKey::from_bytes(bytes)];
            if let Some(next) = crate::identity::read_key_file(&next_path(storage))? {
                keys.push(DataKey::from_bytes(next));
            }
            return Ok(Some(keys));
        }
        KeySource::File(path) => {
            let text = std::fs::read(path).map_err(|e| KeyError::Unreadable(path.clone(), e.to_string()))?;
            parse_key(&Zeroizing::new(text), &path.display().to_string())?
        }
        KeySource::Env(var) => {
            let text = std::env::var(var).map_err(|_| KeyError::MissingEnv(var.clone()))?;
            parse_key(Zeroizing::new(text).as_bytes(), var)?
        }
        KeySource::Passphrase(phrase) => {
            let salt = crate::identity::load_or_create_key(&storage.join(SALT_FILE), || {
                DataKey::generate().map_or([0; 32], |k| *k.as_bytes())
            })?;
            let mut short = [0u8; 16];
            short.copy_from_slice(&salt[..16]);
            DataKey::from_passphrase(phrase, &short)?
        }
    };
    Ok(Some(vec![key]))
}

/// Where a rotation of the device file keeps the new key until the store is re-encrypted.
pub(crate) fn next_path(storage: &Path) -> PathBuf {
    storage.join(format!("{DATA_KEY_FILE}.next"))
}

/// 32 raw bytes, or 64 hex digits (surrounding whitespace ignored).
fn parse_key(bytes: &[u8], name: &str) -> Result<DataKey, KeyError> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(DataKey::from_bytes(raw));
    }
    let text = std::str::from_utf8(bytes).map(str::trim).unwrap_or_default();
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, &mut out[..]).map_err(|_| KeyError::Malformed {
        source_name: name.to_owned(),
        reason: "a data key is 64 hex digits or 32 raw bytes".to_owned(),
    })?;
    Ok(DataKey::from_bytes(*out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_source_and_refuses_junk() {
        assert!(matches!("off".parse(), Ok(KeySource::Off)));
        assert!(matches!("device".parse(), Ok(KeySource::DeviceFile)));
        assert!(
            matches!("file:/run/secrets/k".parse(), Ok(KeySource::File(p)) if p == Path::new("/run/secrets/k"))
        );
        assert!(matches!("env:HS_KEY".parse(), Ok(KeySource::Env(v)) if v == "HS_KEY"));
        for junk in ["", "file:", "env:", "yes", "passphrase:x"] {
            assert!(junk.parse::<KeySource>().is_err(), "{junk:?} accepted");
        }
    }

    #[test]
    fn device_file_is_created_once_and_secret_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(&KeySource::DeviceFile, dir.path()).unwrap().unwrap();
        let again = resolve(&KeySource::DeviceFile, dir.path()).unwrap().unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].id(), again[0].id());
        assert!(resolve(&KeySource::Off, dir.path()).unwrap().is_none());

        let secret = dir.path().join("secret");
        std::fs::write(&secret, format!("{}\n", "ab".repeat(32))).unwrap();
        let key = resolve(&KeySource::File(secret.clone()), dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(key[0].as_bytes(), &[0xab; 32]);
        std::fs::write(&secret, "not a key").unwrap();
        let err = resolve(&KeySource::File(secret), dir.path()).unwrap_err();
        assert!(err.to_string().contains("secret"), "{err}");
        let missing = resolve(&KeySource::File(dir.path().join("nope")), dir.path()).unwrap_err();
        assert!(matches!(missing, KeyError::Unreadable(..)), "{missing}");
    }
}
