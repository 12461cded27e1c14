//! Opening a node's store with its configured data key, migrating and rotating (HS-REST-2,
//! HS-REST-5), documents and blobs alike (the blob store follows the document store's key:
//! sealed under it, plain without one, `transport::sealed_blobs::migrate`). Blocking: call
//! before the runtime starts the node, or from `spawn_blocking`.

use std::path::Path;

use crate::error::Error;
use crate::keys::{self, DataKey, DeviceSecret, KeyId, KeySource};
use crate::store::{DocStore, StoreError, StoreOptions};
use crate::transport::sealed_blobs::{SealedBlobError, migrate};

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
    Error::Key(e)
}

fn blob_error(e: SealedBlobError) -> Error {
    Error::Storage(e.to_string())
}

/// Opens the node's store under `storage` with the key `source` gives. A plain store is
/// migrated (crash-safely) when a key is configured; a device-file rotation interrupted by a
/// crash is finished (the store's key check says which of `data.key` / `data.key.next` it is
/// sealed with).
pub fn open_store(storage: &Path, source: &KeySource) -> Result<DocStore, Error> {
    open_stores(storage, source).map(|(store, _)| store)
}

/// [`open_store`], also bringing the blob store under the same key (HS-REST-6: a plain blob
/// store migrated, one under the other key of an interrupted rotation re-sealed) and returning
/// that key, `None` for a plain node (its blobs stay in iroh-blobs' plain store).
pub fn open_stores(storage: &Path, source: &KeySource) -> Result<(DocStore, Option<DataKey>), Error> {
    let dir = store_dir(storage);
    let options = StoreOptions::default();
    let Some(candidates) = keys::resolve(source, storage).map_err(key_error)? else {
        let store = DocStore::open_with(&dir, options).map_err(store_error)?;
        migrate::settle(storage, &[], None).map_err(blob_error)?;
        return Ok((store, None));
    };
    let mut last = None;
    for (i, key) in candidates.iter().enumerate() {
        match DocStore::open_keyed(&dir, options, Some(key)) {
            Ok(store) => {
                migrate::settle(storage, &candidates, Some(key)).map_err(blob_error)?;
                settle_device_keys(storage, source, i == 1)?;
                return Ok((store, Some(key.clone())));
            }
            Err(e @ StoreError::WrongKey { .. }) => last = Some(e),
            Err(StoreError::NotEncrypted(_)) => {
                tracing::warn!(dir = %dir.display(), "encrypting a plain store (migration)");
                DocStore::rekey(&dir, options, None, Some(key)).map_err(store_error)?;
                migrate::settle(storage, &candidates, Some(key)).map_err(blob_error)?;
                settle_device_keys(storage, source, i == 1)?;
                let store = DocStore::open_keyed(&dir, options, Some(key)).map_err(store_error)?;
                return Ok((store, Some(key.clone())));
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(last.map_or_else(|| Error::Storage("no data key".to_owned()), store_error))
}

/// After a key opened the store: when it was the pending one (a device rotation or passphrase
/// change that committed, then crashed) it becomes the current one, else the pending one is
/// dropped (a change that never committed). Other sources have nothing pending.
fn settle_device_keys(storage: &Path, source: &KeySource, next_won: bool) -> Result<(), Error> {
    if source.is_device() {
        if next_won {
            keys::device::promote_next(storage).map_err(key_error)
        } else {
            let next = keys::device::load(storage, DeviceSecret::NextDataKey).map_err(key_error)?;
            match next {
                Some((place, _)) => {
                    keys::device::remove(storage, DeviceSecret::NextDataKey, place).map_err(key_error)
                }
                None => Ok(()),
            }
        }
    } else if matches!(source, KeySource::Passphrase(_)) {
        keys::source::settle_next_salt(storage, next_won).map_err(key_error)
    } else {
        Ok(())
    }
}

/// Rotates the device data key of a node that is not running (HS-REST-5), wherever the device
/// keeps it (`data.key` or the OS keychain): a new random key is kept next to it
/// (`data.key.next`, or the keychain's next-key entry), the store is re-encrypted under it,
/// then it replaces the current key. A kill -9 at any point leaves a store the next start
/// opens (it finishes the rotation, or drops the unused new key). Returns the new key's id.
pub fn rotate_device_key(storage: &Path) -> Result<KeyId, Error> {
    let dir = store_dir(storage);
    let current = keys::device::load(storage, DeviceSecret::DataKey).map_err(key_error)?;
    let (place, current) = current.ok_or_else(|| Error::Storage("no device data key".to_owned()))?;
    let current = DataKey::from_bytes(*current);
    let next = match keys::device::load(storage, DeviceSecret::NextDataKey).map_err(key_error)? {
        // A rotation interrupted earlier: reuse its key, the store may already be under it.
        Some((_, bytes)) => DataKey::from_bytes(*bytes),
        None => {
            let key = DataKey::generate().map_err(key_error)?;
            keys::device::put(storage, DeviceSecret::NextDataKey, place, key.as_bytes())
                .map_err(key_error)?;
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
    // The blobs follow (a kill before this is finished by the next start's settle, which
    // knows both keys until the next one is promoted).
    migrate::settle(storage, &[current, next.clone()], Some(&next)).map_err(blob_error)?;
    settle_device_keys(storage, &KeySource::Device, true)?;
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
    let old = first(old)?;
    let new_key = match new {
        // A new passphrase gets a new salt; it becomes the salt once the store is under it.
        KeySource::Passphrase(phrase) => {
            Some(keys::source::next_passphrase_key(phrase, storage).map_err(key_error)?)
        }
        other => first(other)?,
    };
    // Blobs first: a kill after they committed leaves them under the new key, which running
    // this again (it checks the blob store's key id) leaves alone.
    let candidates: Vec<DataKey> = old.iter().cloned().collect();
    migrate::settle(storage, &candidates, new_key.as_ref()).map_err(blob_error)?;
    let report = DocStore::rekey(
        &store_dir(storage),
        StoreOptions::default(),
        old.as_ref(),
        new_key.as_ref(),
    )
    .map_err(store_error)?;
    if matches!(new, KeySource::Passphrase(_)) {
        settle_device_keys(storage, new, true)?;
    }
    Ok(report)
}

/// Moves the device's own secrets — its identity key, its data key and a pending rotation's key —
/// between the 0600 files and the OS keychain (HS-REST-2). Each key is written to its new place
/// and read back before the old copy is removed; a crash between leaves both copies (the file is
/// used) and running the move again finishes it. The keys do not change, so the store is not
/// re-encrypted. Configure the node with [`KeySource::Device`] (it uses the keys where they are)
/// or with the new place.
pub fn move_device_keys(storage: &Path, to: keys::KeyPlace) -> Result<keys::MoveReport, Error> {
    keys::move_device_keys(storage, to).map_err(key_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    /// HS-REST-2: a new passphrase gets a new argon2id salt. Re-keying from one passphrase to
    /// another derived the new key from the old salt before.
    #[test]
    fn a_new_passphrase_gets_a_new_salt() {
        let dir = tempfile::tempdir().unwrap();
        let old = KeySource::Passphrase(Zeroizing::new("old words".to_owned()));
        let new = KeySource::Passphrase(Zeroizing::new("new words".to_owned()));
        open_store(dir.path(), &old).unwrap().close().unwrap();
        let salt = || std::fs::read(dir.path().join("data.key.salt")).unwrap();
        let before = salt();
        rekey_storage(dir.path(), &old, &new).unwrap();
        assert_ne!(salt(), before, "the new passphrase reused the old salt");
        assert!(!dir.path().join("data.key.salt.next").exists());
        open_store(dir.path(), &new).unwrap().close().unwrap();
        assert!(
            open_store(dir.path(), &old).is_err(),
            "the old passphrase still opens the store"
        );
    }
}
