//! Where a device keeps its own secrets — the identity key, the data key and a rotation's next
//! data key — and moving them between the 0600 files and the OS keychain (HS-REST-2).
//!
//! A secret is read from its file when the file exists (`identity.key`, `data.key`,
//! `data.key.next`), else from the keychain when `<storage>/keychain.ref` lists it. That file
//! holds no secret: a random id naming this storage's entries (`<id>/identity-key`, …, service
//! `humansync`) and the secrets kept there. A key is never looked for in the other place once
//! found, and a missing key is created only where the [`Placement`] says: a key that exists in
//! one place is never silently replaced by a new one in the other.
//!
//! Moves write the key to its new place and read it back before the old copy is removed, so a
//! crash in between leaves two identical copies (the file wins) and running the move again
//! finishes it.

use std::path::Path;

use zeroize::Zeroizing;

use super::KeyError;
use super::keychain::{Keychain, KeychainError};
use super::keychain_ref::KeychainRef;
use crate::identity;

/// A secret the device keeps for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSecret {
    /// The Ed25519 identity key (`identity.key`); its public half is the device id.
    Identity,
    /// The data key of the store (`data.key`).
    DataKey,
    /// The key a rotation is moving the store to (`data.key.next`), until the store is re-encrypted.
    NextDataKey,
}

impl DeviceSecret {
    /// Every device secret, in the order they are moved.
    pub const ALL: [DeviceSecret; 3] = [
        DeviceSecret::Identity,
        DeviceSecret::DataKey,
        DeviceSecret::NextDataKey,
    ];

    /// Its file name in the storage directory.
    pub fn file_name(self) -> &'static str {
        match self {
            DeviceSecret::Identity => identity::IDENTITY_FILE,
            DeviceSecret::DataKey => super::DATA_KEY_FILE,
            DeviceSecret::NextDataKey => "data.key.next",
        }
    }

    /// Its name in `keychain.ref` and in its keychain entry.
    pub(crate) fn token(self) -> &'static str {
        match self {
            DeviceSecret::Identity => "identity-key",
            DeviceSecret::DataKey => "data-key",
            DeviceSecret::NextDataKey => "data-key-next",
        }
    }

    fn label(self) -> &'static str {
        match self {
            DeviceSecret::Identity => "HumanSync device identity key",
            DeviceSecret::DataKey => "HumanSync data key",
            DeviceSecret::NextDataKey => "HumanSync next data key (rotation)",
        }
    }
}

/// Where device secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlace {
    /// 0600 files in the storage directory.
    Files,
    /// The OS keychain.
    Keychain,
}

impl KeyPlace {
    /// `files` or `keychain` (what [`KeyPlace::from_str`](std::str::FromStr) reads).
    pub fn name(self) -> &'static str {
        match self {
            KeyPlace::Files => "files",
            KeyPlace::Keychain => "keychain",
        }
    }
}

impl std::fmt::Display for KeyPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyPlace::Files => "files",
            KeyPlace::Keychain => "the OS keychain",
        })
    }
}

impl std::str::FromStr for KeyPlace {
    type Err = String;

    /// `files` or `keychain`.
    fn from_str(value: &str) -> Result<KeyPlace, String> {
        match value {
            "files" | "file" => Ok(KeyPlace::Files),
            "keychain" => Ok(KeyPlace::Keychain),
            other => Err(format!("{other:?} is not `files` or `keychain`")),
        }
    }
}

/// Where a missing device secret is created, and whether an existing one must be in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Where the device's other secrets are; on a fresh device the keychain when one is reachable
    /// and takes the key, else files.
    Auto,
    /// Created in this place; an existing key is used wherever it is.
    Prefer(KeyPlace),
    /// Only in this place: a key found in the other one is [`KeyError::Elsewhere`].
    Require(KeyPlace),
}

fn path_of(storage: &Path, secret: DeviceSecret) -> std::path::PathBuf {
    storage.join(secret.file_name())
}

/// A secret and where it was found.
pub(crate) type Found = (KeyPlace, Zeroizing<[u8; 32]>);

/// The secret and where it was found, `None` when it exists nowhere.
pub(crate) fn load(storage: &Path, secret: DeviceSecret) -> Result<Option<Found>, KeyError> {
    if let Some(key) = identity::read_key_file(&path_of(storage, secret))? {
        return Ok(Some((KeyPlace::Files, Zeroizing::new(key))));
    }
    let Some(reference) = KeychainRef::read(storage)? else {
        return Ok(None);
    };
    if !reference.holds(secret) {
        return Ok(None);
    }
    let name = reference.entry(secret);
    match Keychain::connect()?.get(&name)? {
        Some(key) => Ok(Some((KeyPlace::Keychain, key))),
        None => Err(KeychainError::Missing { entry: name }.into()),
    }
}

/// The secret, created from `fresh()` where `placement` says when it exists nowhere.
pub(crate) fn load_or_create(
    storage: &Path,
    secret: DeviceSecret,
    placement: Placement,
    fresh: impl FnOnce() -> Result<[u8; 32], KeyError>,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    if let Some((found, key)) = load(storage, secret)? {
        if let Placement::Require(wanted) = placement
            && wanted != found
        {
            return Err(KeyError::Elsewhere {
                secret: secret.file_name(),
                found,
                wanted,
            });
        }
        return Ok(key);
    }
    let place = match placement {
        Placement::Prefer(place) | Placement::Require(place) => place,
        Placement::Auto => match settled_place(storage)? {
            Some(place) => place,
            None => {
                // A fresh device: the keychain if it takes the key, else the files as before.
                let key = Zeroizing::new(fresh()?);
                return match put(storage, secret, KeyPlace::Keychain, &key) {
                    Ok(()) => Ok(key),
                    Err(KeyError::Keychain(e)) => {
                        tracing::info!("device keys kept in 0600 files ({e})");
                        create_file(storage, secret, || Ok(*key))
                    }
                    Err(e) => Err(e),
                };
            }
        },
    };
    match place {
        KeyPlace::Files => create_file(storage, secret, fresh),
        KeyPlace::Keychain => {
            let key = Zeroizing::new(fresh()?);
            put(storage, secret, KeyPlace::Keychain, &key)?;
            Ok(key)
        }
    }
}

/// Where this device's secrets already are, `None` on a fresh device.
fn settled_place(storage: &Path) -> Result<Option<KeyPlace>, KeyError> {
    if KeychainRef::read(storage)?.is_some_and(|r| !r.is_empty()) {
        return Ok(Some(KeyPlace::Keychain));
    }
    let any_file = DeviceSecret::ALL
        .iter()
        .any(|s| std::fs::symlink_metadata(path_of(storage, *s)).is_ok());
    Ok(any_file.then_some(KeyPlace::Files))
}

/// Creates the key file atomically (a concurrent creator's key wins, see
/// [`identity::load_or_create_key`]).
fn create_file(
    storage: &Path,
    secret: DeviceSecret,
    fresh: impl FnOnce() -> Result<[u8; 32], KeyError>,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut failed = None;
    let key = identity::load_or_create_key(&path_of(storage, secret), || match fresh() {
        Ok(key) => key,
        Err(e) => {
            failed = Some(e);
            [0; 32]
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(Zeroizing::new(key)),
    }
}

/// Keeps `key` as `secret` in `place`, durably and verified: a file is written through a
/// temporary and read back; a keychain entry is read back, then recorded in `keychain.ref`.
pub(crate) fn put(
    storage: &Path,
    secret: DeviceSecret,
    place: KeyPlace,
    key: &[u8; 32],
) -> Result<(), KeyError> {
    match place {
        KeyPlace::Files => {
            let path = path_of(storage, secret);
            identity::write_key_file(&path, key)?;
            match identity::read_key_file(&path)? {
                Some(copy) if copy == *key => Ok(()),
                _ => Err(KeyError::Unreadable(
                    path,
                    "did not read back what was written".to_owned(),
                )),
            }
        }
        KeyPlace::Keychain => {
            let mut reference = KeychainRef::read(storage)?.unwrap_or_else(KeychainRef::fresh);
            let keychain = Keychain::connect()?;
            let label = format!("{} ({})", secret.label(), storage.display());
            keychain.put(&reference.entry(secret), &label, key)?;
            if !reference.holds(secret) {
                reference.insert(secret);
                reference.write(storage)?;
            }
            Ok(())
        }
    }
}

/// Removes `secret` from `place` (absent is fine). A keychain entry is first struck from
/// `keychain.ref`, then deleted.
pub(crate) fn remove(storage: &Path, secret: DeviceSecret, place: KeyPlace) -> Result<(), KeyError> {
    match place {
        KeyPlace::Files => Ok(identity::remove_key_file(&path_of(storage, secret))?),
        KeyPlace::Keychain => {
            let Some(mut reference) = KeychainRef::read(storage)? else {
                return Ok(());
            };
            if !reference.holds(secret) {
                return Ok(());
            }
            let name = reference.entry(secret);
            reference.remove(secret);
            reference.write(storage)?;
            Keychain::connect()?.delete(&name)?;
            Ok(())
        }
    }
}

/// After a rotation committed: the next data key becomes the data key, in the place it is kept.
pub(crate) fn promote_next(storage: &Path) -> Result<(), KeyError> {
    let Some((place, next)) = load(storage, DeviceSecret::NextDataKey)? else {
        return Ok(());
    };
    match place {
        KeyPlace::Files => identity::rename_key_file(
            &path_of(storage, DeviceSecret::NextDataKey),
            &path_of(storage, DeviceSecret::DataKey),
        )?,
        KeyPlace::Keychain => {
            put(storage, DeviceSecret::DataKey, KeyPlace::Keychain, &next)?;
            // A stale data.key file would win over the keychain entry.
            remove(storage, DeviceSecret::DataKey, KeyPlace::Files)?;
            remove(storage, DeviceSecret::NextDataKey, KeyPlace::Keychain)?;
        }
    }
    Ok(())
}

/// Where each device secret that exists is kept (reading each one, so a keychain entry that is
/// locked or missing is an error here too).
pub fn device_key_places(storage: &Path) -> Result<Vec<(DeviceSecret, KeyPlace)>, KeyError> {
    let mut out = Vec::new();
    for secret in DeviceSecret::ALL {
        if let Some((place, _)) = load(storage, secret)? {
            out.push((secret, place));
        }
    }
    Ok(out)
}

/// What [`move_device_keys`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveReport {
    /// The secrets now kept in the target place that were elsewhere before.
    pub moved: Vec<DeviceSecret>,
    /// Where every device secret is now.
    pub place: KeyPlace,
}

/// Moves every device secret (identity key, data key, a pending rotation's next key) to `to`.
///
/// Each key is written to `to` and read back before its old copy is removed; a crash between
/// leaves two identical copies, and running the move again finishes it. Leftovers of an earlier
/// interrupted move (a keychain entry whose file still exists) are cleaned up. The keys do not
/// change, so the store needs no re-encryption; a running node is unaffected. A node configured
/// with an explicit place (`keychain`, `device-file`) must be configured for the new one.
pub fn move_device_keys(storage: &Path, to: KeyPlace) -> Result<MoveReport, KeyError> {
    let mut moved = Vec::new();
    for secret in DeviceSecret::ALL {
        let Some((from, key)) = load(storage, secret)? else {
            continue;
        };
        if from != to {
            put(storage, secret, to, &key)?;
            remove(storage, secret, from)?;
            moved.push(secret);
        } else if to == KeyPlace::Files {
            // An interrupted move to the files: the keychain copy is the same key; drop it.
            remove(storage, secret, KeyPlace::Keychain)?;
        }
    }
    if to == KeyPlace::Files {
        KeychainRef::remove_if_empty(storage)?;
    }
    Ok(MoveReport { moved, place: to })
}
