//! `<storage>/keychain.ref`: which device secrets this storage keeps in the OS keychain, and
//! under which entries (HS-REST-2). It holds no secret.
//!
//! ```text
//! humansync-keychain-ref 1
//! id 5f0c…(32 hex digits: this storage's entries are "<id>/<secret>", service "humansync")
//! identity-key
//! data-key
//! ```
//!
//! The id is random, so two storage directories of one user never share an entry, and moving a
//! storage directory keeps its keys. The file is replaced atomically (temporary file, fsync,
//! rename, directory fsync) and read with a size bound.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::KeyError;
use super::device::DeviceSecret;

/// The file's name in the storage directory.
pub const KEYCHAIN_REF_FILE: &str = "keychain.ref";

/// The first line of the file (format version 1).
const MAGIC: &str = "humansync-keychain-ref 1";

/// A valid file is far smaller; anything larger is refused before it is read.
const MAX_LEN: u64 = 1024;

/// The parsed `keychain.ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeychainRef {
    id: String,
    held: BTreeSet<&'static str>,
}

fn malformed(path: &Path, reason: &str) -> KeyError {
    KeyError::Malformed {
        source_name: path.display().to_string(),
        reason: reason.to_owned(),
    }
}

impl KeychainRef {
    /// A new reference with a random id and no secrets.
    pub(crate) fn fresh() -> KeychainRef {
        let mut id = [0u8; 16];
        // Without OS randomness the id is only less unique (it names entries, it is no secret).
        let _ = getrandom::fill(&mut id);
        KeychainRef {
            id: hex::encode(id),
            held: BTreeSet::new(),
        }
    }

    /// The storage's reference, `None` when it keeps nothing in the keychain.
    pub(crate) fn read(storage: &Path) -> Result<Option<KeychainRef>, KeyError> {
        let path = storage.join(KEYCHAIN_REF_FILE);
        let file = match crate::store::nofollow_options().read(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(KeyError::Unreadable(path, e.to_string())),
        };
        let mut text = String::new();
        file.take(MAX_LEN + 1)
            .read_to_string(&mut text)
            .map_err(|e| KeyError::Unreadable(path.clone(), e.to_string()))?;
        if text.len() as u64 > MAX_LEN {
            return Err(malformed(&path, "too large"));
        }
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(malformed(&path, "not a HumanSync keychain reference"));
        }
        let id = lines
            .next()
            .and_then(|l| l.strip_prefix("id "))
            .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| malformed(&path, "no entry id"))?;
        let mut held = BTreeSet::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let secret = DeviceSecret::ALL
                .into_iter()
                .find(|s| s.token() == line)
                .ok_or_else(|| malformed(&path, "unknown secret"))?;
            held.insert(secret.token());
        }
        Ok(Some(KeychainRef {
            id: id.to_owned(),
            held,
        }))
    }

    /// True when the keychain holds `secret` for this storage.
    pub(crate) fn holds(&self, secret: DeviceSecret) -> bool {
        self.held.contains(secret.token())
    }

    /// True when no secret is kept in the keychain.
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Records `secret` as kept in the keychain.
    pub(crate) fn insert(&mut self, secret: DeviceSecret) {
        self.held.insert(secret.token());
    }

    /// Records `secret` as no longer kept in the keychain.
    pub(crate) fn remove(&mut self, secret: DeviceSecret) {
        self.held.remove(secret.token());
    }

    /// The keychain entry (user name) of `secret` for this storage.
    pub(crate) fn entry(&self, secret: DeviceSecret) -> String {
        format!("{}/{}", self.id, secret.token())
    }

    /// Replaces the file durably.
    pub(crate) fn write(&self, storage: &Path) -> Result<(), KeyError> {
        let path = storage.join(KEYCHAIN_REF_FILE);
        let mut text = format!("{MAGIC}\nid {}\n", self.id);
        for token in &self.held {
            text.push_str(token);
            text.push('\n');
        }
        let tmp = storage.join(format!("{KEYCHAIN_REF_FILE}.tmp"));
        let io = |p: &PathBuf, e: std::io::Error| KeyError::Unreadable(p.clone(), e.to_string());
        let _ = std::fs::remove_file(&tmp);
        let mut opts = crate::store::nofollow_options();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        sync_dir(storage)
    }

    /// Deletes the file when it lists no secret.
    pub(crate) fn remove_if_empty(storage: &Path) -> Result<(), KeyError> {
        if KeychainRef::read(storage)?.is_some_and(|r| r.is_empty()) {
            let path = storage.join(KEYCHAIN_REF_FILE);
            std::fs::remove_file(&path).map_err(|e| KeyError::Unreadable(path, e.to_string()))?;
            sync_dir(storage)?;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| KeyError::Unreadable(dir.to_path_buf(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_junk() {
        let dir = tempfile::tempdir().unwrap();
        assert!(KeychainRef::read(dir.path()).unwrap().is_none());
        let mut r = KeychainRef::fresh();
        r.insert(DeviceSecret::DataKey);
        r.insert(DeviceSecret::Identity);
        r.write(dir.path()).unwrap();
        let back = KeychainRef::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, r);
        assert!(back.holds(DeviceSecret::Identity) && !back.holds(DeviceSecret::NextDataKey));
        assert_eq!(back.entry(DeviceSecret::DataKey), format!("{}/data-key", r.id));

        let path = dir.path().join(KEYCHAIN_REF_FILE);
        for junk in [
            "nope\n".to_owned(),
            format!("{MAGIC}\nid xyz\n"),
            format!("{MAGIC}\nid {}\nmystery\n", r.id),
            format!("{MAGIC}\nid {}\n{}", r.id, "data-key\n".repeat(200)),
        ] {
            std::fs::write(&path, &junk).unwrap();
            let err = KeychainRef::read(dir.path()).unwrap_err();
            assert!(matches!(err, KeyError::Malformed { .. }), "{junk:?}: {err}");
        }
    }
}
