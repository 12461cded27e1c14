//! Opening a node's store with its configured data key, migrating and rotating (HS-REST-2,
//! HS-REST-5). Blocking: call before the runtime starts the node, or from `spawn_blocking`.

use std::path::Path;

use crate::error::Error;
use crate::keys::{self, DataKey, KeyId, KeySource};
use crate::store::{DocStore, StoreError, StoreOptions};

/// The store directory inside the storage directory.
fn store_dir(storage: &Path) -> std::path::PathBuf {
    storage.join("store")
}

fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::Locked(path) => Error::StoreInUse(path),
        e => Error::Storage(e.to_string()),
    }
}

fn key_error(e: keys::KeyError) -> Error {
    Error::Storage(format!("data key: {e}"))
}

/// Opens the node's store under `storage` with the key `source` gives. A plain store is
/// migrated (crash-safely) when a key is configured; a device-file rotation interrupted by a
/// crash is finished (the store's key check says which of `data.key` / `data.key.next` it is
/// sealed with).
pub fn open_store(storage: &Path, source: &KeySource) -> Result<DocStore, Error> {
    let dir = store_dir(storage);
    let options = StoreOptions::default();
    let Some(candidates) = keys::resolve(source, storage).map_err(key_error)? else {
        return DocStore::open_with(&dir, options).map_err(store_error);
    };
    let mut last = None;
    for (i, key) in candidates.iter().enumerate() {
        match DocStore::open_keyed(&dir, options, Some(key)) {
            Ok(store) => {
                settle_device_keys(storage, source, i == 1)?;
                return Ok(store);
            }
            Err(e @ StoreError::WrongKey { .. }) => last = Some(e),
            Err(StoreError::NotEncrypted(_)) => {
                tracing::warn!(dir = %dir.display(), "encrypting a plain store (migration)");
                DocStore::rekey(&dir, options, None, Some(key)).map_err(store_error)?;
                settle_device_keys(storage, source, i == 1)?;
                return DocStore::open_keyed(&dir, options, Some(key)).map_err(store_error);
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(last.map_or_else(|| Error::Storage("no data key".to_owned()), store_error))
}

/// After the device file's key opened the store: promote `data.key.next` when it was the one
/// (a rotation committed, then crashed), else drop it (a rotation that never committed).
fn settle_device_keys(storage: &Path, source: &KeySource, next_won: bool) -> Result<(), Error> {
    if !matches!(source, KeySource::DeviceFile) {
        return Ok(());
    }
    let next = keys::source::next_path(storage);
    let current = storage.join(keys::DATA_KEY_FILE);
    let io = |op: &str, e: std::io::Error| Error::Storage(format!("{op} {}: {e}", next.display()));
    if next_won {
        std::fs::rename(&next, &current).map_err(|e| io("promote", e))?;
    } else {
        match std::fs::remove_file(&next) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("remove", e)),
        }
    }
    std::fs::File::open(storage)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::Storage(format!("sync {}: {e}", storage.display())))
}

/// Rotates the device data key (`<storage>/data.key`) of a node that is not running
/// (HS-REST-5): a new random key is kept in `data.key.next`, the store is re-encrypted under
/// it, then it replaces `data.key`. A kill -9 at any point leaves a store the next start opens
/// (it finishes the rotation, or drops the unused new key). Returns the new key's id.
pub fn rotate_device_key(storage: &Path) -> Result<KeyId, Error> {
    let dir = store_dir(storage);
    let next_path = keys::source::next_path(storage);
    let current = keys::resolve(&KeySource::DeviceFile, storage).map_err(key_error)?;
    let current = current.and_then(|keys| keys.into_iter().next());
    let current = current.ok_or_else(|| Error::Storage("no device data key".to_owned()))?;
    let next = match crate::identity::read_key_file(&next_path).map_err(|e| key_error(e.into()))? {
        // A rotation interrupted earlier: reuse its key, the store may already be under it.
        Some(bytes) => DataKey::from_bytes(bytes),
        None => {
            let key = DataKey::generate().map_err(key_error)?;
            crate::identity::write_key_file(&next_path, key.as_bytes()).map_err(|e| key_error(e.into()))?;
            key
        }
    };
    let options = StoreOptions::default();
    match DocStore::rekey(&dir, options, Some(&current), Some(&next)) {
        Ok(_) => {}
        Err(StoreError::NotEncrypted(_)) => {
            DocStore::rekey(&dir, options, None, Some(&next)).map_err(store_error)?;
        }
        // Committed before a crash: the store is already under the new key.
        Err(StoreError::WrongKey { .. }) => {
            DocStore::open_keyed(&dir, options, Some(&next))
                .map_err(store_error)?
                .close()
                .map_err(store_error)?;
        }
        Err(e) => return Err(store_error(e)),
    }
    settle_device_keys(storage, &KeySource::DeviceFile, true)?;
    Ok(next.id())
}

/// Re-encrypts the store of a node that is not running from the key `old` gives to the key
/// `new` gives (either may be [`KeySource::Off`]): a server's key file or environment key, a
/// passphrase change, turning encryption on or off. Crash-safe; keep both keys until it returns.
pub fn rekey_storage(
    storage: &Path,
    old: &KeySource,
    new: &KeySource,
) -> Result<crate::store::RekeyReport, Error> {
    let first = |s: &KeySource| -> Result<Option<DataKey>, Error> {
        Ok(keys::resolve(s, storage)
            .map_err(key_error)?
            .and_then(|keys| keys.into_iter().next()))
    };
    let (old, new) = (first(old)?, first(new)?);
    DocStore::rekey(
        &store_dir(storage),
        StoreOptions::default(),
        old.as_ref(),
        new.as_ref(),
    )
    .map_err(store_error)
}
