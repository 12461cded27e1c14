//! Where a node's data key comes from (HS-REST-2).
//!
//! | source | used by | created when missing |
//! |---|---|---|
//! | [`KeySource::Device`] | devices (the default) | yes: with the identity key, in the OS keychain when one is reachable on a fresh device, else `<storage>/data.key` (0600) |
//! | [`KeySource::Keychain`] | devices that want the keychain or nothing | yes, in the OS keychain |
//! | [`KeySource::DeviceFile`] | devices that want files (and the tests) | yes: `<storage>/data.key`, 0600 |
//! | [`KeySource::File`] | a server's mounted key or Docker secret | no |
//! | [`KeySource::Env`] | a server (`HUMANSYNC_DATA_KEY`) | no |
//! | [`KeySource::Passphrase`] | users who want one | salt file only |
//! | [`KeySource::Off`] | servers by default, tests | — |
//!
//! The three device sources also decide where the identity key is created ([`KeySource::placement`]);
//! device.rs keeps the secrets and moves them between the places.

use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::device::{self, DeviceSecret, KeyPlace, Placement};
use super::{DataKey, KeyError};

/// The device key file's name inside the storage directory.
pub const DATA_KEY_FILE: &str = "data.key";

/// The passphrase salt file's name inside the storage directory.
const SALT_FILE: &str = "data.key.salt";

/// A new passphrase's salt until the store is re-encrypted under it.
const NEXT_SALT_FILE: &str = "data.key.salt.next";

/// The largest key file [`KeySource::File`] reads: 64 hex digits with a line ending and some
/// whitespace, or 32 raw bytes. Larger files are refused before anything is allocated.
pub const MAX_KEY_FILE_LEN: u64 = 128;

/// Where the data key comes from. See the module docs for which is used where.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum KeySource {
    /// No encryption at rest.
    Off,
    /// The device's own key, kept where its identity key is: the OS keychain or `data.key`
    /// (0600). On a fresh device the keychain is used when one is reachable and unlocked, else
    /// the files; an existing key is used where it is and never moved silently.
    #[default]
    Device,
    /// The device's own key in `<storage>/data.key` (0600, like `identity.key`), created with a
    /// random key when missing; a key kept in the keychain is an error ([`KeyError::Elsewhere`]).
    DeviceFile,
    /// The device's own key in the OS keychain, created there when missing; an unreachable or
    /// locked keychain, or a key kept in `data.key`, is an error.
    Keychain,
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
            KeySource::Device => f.write_str("Device"),
            KeySource::DeviceFile => f.write_str("DeviceFile"),
            KeySource::Keychain => f.write_str("Keychain"),
            KeySource::File(p) => write!(f, "File({})", p.display()),
            KeySource::Env(v) => write!(f, "Env({v})"),
            KeySource::Passphrase(_) => f.write_str("Passphrase(..)"),
        }
    }
}

impl std::str::FromStr for KeySource {
    type Err = String;

    /// `off`, `device`, `device-file`, `keychain`, `file:<path>` or `env:<VARIABLE>` (TOML
    /// `[storage] encryption`, server `--data-key`). Passphrases are given in code only, never in
    /// a configuration file.
    fn from_str(value: &str) -> Result<KeySource, String> {
        match value {
            "off" | "none" => Ok(KeySource::Off),
            "device" | "on" => Ok(KeySource::Device),
            "device-file" => Ok(KeySource::DeviceFile),
            "keychain" => Ok(KeySource::Keychain),
            _ => {
                if let Some(path) = value.strip_prefix("file:").filter(|p| !p.is_empty()) {
                    Ok(KeySource::File(PathBuf::from(path)))
                } else if let Some(var) = value.strip_prefix("env:").filter(|v| !v.is_empty()) {
                    Ok(KeySource::Env(var.to_owned()))
                } else {
                    Err(format!(
                        "encryption {value:?} is not `off`, `device`, `device-file`, `keychain`, `file:<path>` or `env:<VARIABLE>`"
                    ))
                }
            }
        }
    }
}

impl KeySource {
    /// Where the device's own secrets (its identity key, and its data key for the device
    /// sources) are created and may be found.
    pub(crate) fn placement(&self) -> Placement {
        match self {
            KeySource::Device => Placement::Auto,
            KeySource::DeviceFile => Placement::Require(KeyPlace::Files),
            KeySource::Keychain => Placement::Require(KeyPlace::Keychain),
            _ => Placement::Prefer(KeyPlace::Files),
        }
    }

    /// True for the sources whose key is the device's own ([`device`] keeps it).
    pub(crate) fn is_device(&self) -> bool {
        matches!(
            self,
            KeySource::Device | KeySource::DeviceFile | KeySource::Keychain
        )
    }
}

/// The data keys `source` offers for the store under `storage`: the current key and, for the
/// device sources and passphrases, the key a rotation or passphrase change was moving to
/// (`data.key.next`, `data.key.salt.next`), which the store's key check tells apart. `Ok(None)`
/// when encryption is off.
pub fn resolve(source: &KeySource, storage: &Path) -> Result<Option<Vec<DataKey>>, KeyError> {
    let key = match source {
        KeySource::Off => return Ok(None),
        KeySource::Device | KeySource::DeviceFile | KeySource::Keychain => {
            let key = device::load_or_create(storage, DeviceSecret::DataKey, source.placement(), || {
                Ok(*DataKey::generate()?.as_bytes())
            })?;
            let mut keys = vec![DataKey::from_bytes(*key)];
            if let Some((_, next)) = device::load(storage, DeviceSecret::NextDataKey)? {
                keys.push(DataKey::from_bytes(*next));
            }
            return Ok(Some(keys));
        }
        KeySource::File(path) => {
            let text = read_bounded(path)?;
            parse_key(&text, &path.display().to_string())?
        }
        KeySource::Env(var) => {
            let text = std::env::var(var).map_err(|_| KeyError::MissingEnv(var.clone()))?;
            parse_key(Zeroizing::new(text).as_bytes(), var)?
        }
        KeySource::Passphrase(phrase) => {
            let mut keys = vec![passphrase_key(phrase, &storage.join(SALT_FILE))?];
            if let Some(salt) = crate::identity::read_key_file(&storage.join(NEXT_SALT_FILE))? {
                keys.push(DataKey::from_passphrase(phrase, &short_salt(&salt))?);
            }
            return Ok(Some(keys));
        }
    };
    Ok(Some(vec![key]))
}

/// The key `phrase` gives with the salt at `salt_path` (a new random salt when missing).
fn passphrase_key(phrase: &str, salt_path: &Path) -> Result<DataKey, KeyError> {
    let salt = crate::identity::load_or_create_key(salt_path, || {
        DataKey::generate().map_or([0; 32], |k| *k.as_bytes())
    })?;
    DataKey::from_passphrase(phrase, &short_salt(&salt))
}

fn short_salt(salt: &[u8; 32]) -> [u8; 16] {
    let mut short = [0u8; 16];
    short.copy_from_slice(&salt[..16]);
    short
}

/// The key `phrase` gives with a new salt (`data.key.salt.next`, created unless an interrupted
/// change left one): a new passphrase never reuses the old salt. [`settle_next_salt`] makes it
/// the salt once the store is re-encrypted.
pub(crate) fn next_passphrase_key(phrase: &str, storage: &Path) -> Result<DataKey, KeyError> {
    passphrase_key(phrase, &storage.join(NEXT_SALT_FILE))
}

/// After a store opened or was re-encrypted: `data.key.salt.next` becomes the salt when its key
/// won, else it is dropped (a change that never committed).
pub(crate) fn settle_next_salt(storage: &Path, next_won: bool) -> Result<(), KeyError> {
    let next = storage.join(NEXT_SALT_FILE);
    if next_won {
        Ok(crate::identity::rename_key_file(&next, &storage.join(SALT_FILE))?)
    } else {
        Ok(crate::identity::remove_key_file(&next)?)
    }
}

/// The key file at `path`, refused when larger than [`MAX_KEY_FILE_LEN`] (checked while reading,
/// so a huge or endless file is never read whole).
fn read_bounded(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let unreadable = |e: std::io::Error| KeyError::Unreadable(path.to_path_buf(), e.to_string());
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut text = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN as usize + 1));
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(KeyError::TooLarge {
            path: path.to_path_buf(),
            max: MAX_KEY_FILE_LEN,
        });
    }
    Ok(text)
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
        assert!(matches!("device".parse(), Ok(KeySource::Device)));
        assert!(matches!("device-file".parse(), Ok(KeySource::DeviceFile)));
        assert!(matches!("keychain".parse(), Ok(KeySource::Keychain)));
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

    /// A key file larger than any key is refused, and never read whole: the bound holds for a
    /// file that never ends. Before, the whole file was read, and a 1 MiB file holding a key
    /// and a megabyte of blanks was accepted.
    #[test]
    fn oversized_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let mut text = "ab".repeat(32);
        text.push_str(&" ".repeat(1 << 20));
        std::fs::write(&big, text).unwrap();
        let err = resolve(&KeySource::File(big), dir.path()).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        #[cfg(unix)]
        {
            let endless = resolve(&KeySource::File("/dev/zero".into()), dir.path()).unwrap_err();
            assert!(endless.to_string().contains("larger than"), "{endless}");
        }
    }
}
