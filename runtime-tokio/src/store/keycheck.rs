//! The key check: `<root>/keycheck` holds the id of the data key an encrypted store is sealed
//! with (HS-REST-2), so that a wrong key is a clear [`StoreError::WrongKey`] naming the file
//! instead of every record failing as corruption. A plain store has no key check.
//!
//! `MAGIC`, then one checksummed record (record.rs) with the 16-byte [`KeyId`]. The id is an
//! HKDF output of the key and reveals nothing about it.

use std::io;
use std::path::Path;

use super::durable;
use super::error::StoreError;
use super::layout::{self, Layout};
use super::record;
use super::stats::Counters;
use crate::keys::{KEY_ID_LEN, KeyId};

/// The first bytes of the key check (format version 1).
const MAGIC: &[u8; 8] = b"HSKEY\0\0\x01";

/// Record kind of the key id.
const ID: u8 = 0x40;

/// The key check's bytes for `id`.
pub(crate) fn encode(id: KeyId) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    // 16 bytes always fit in a record.
    let _ = record::push(&mut out, ID, &[&id.0]);
    out
}

/// The key id stored at `path`, `None` when there is no key check (a plain store). A damaged
/// file is a [`StoreError::Format`]: guessing could seal new records under the wrong key.
pub(crate) fn read(path: &Path) -> Result<Option<KeyId>, StoreError> {
    let bytes = match layout::read_all(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("read", path, e)),
    };
    let damaged = || StoreError::Format {
        path: path.to_path_buf(),
        reason: "damaged key check (restore it from a backup or recover the store from peers)".to_owned(),
    };
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(damaged());
    }
    let mut records = record::iter(&bytes, MAGIC.len());
    let r = records.next().and_then(Result::ok).ok_or_else(damaged)?;
    let id: [u8; KEY_ID_LEN] = r.payload.try_into().map_err(|_| damaged())?;
    if r.kind != ID || records.next().is_some() {
        return Err(damaged());
    }
    Ok(Some(KeyId(id)))
}

/// Durably writes the key check of `id` into `layout`'s root.
pub(crate) fn write(layout: &Layout, id: KeyId, stats: &Counters) -> Result<(), StoreError> {
    let tmp = layout.tmp.join("keycheck");
    durable::replace_side_file(&tmp, &layout.keycheck, &layout.root, &encode(id), stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keycheck");
        assert!(read(&path).unwrap().is_none());
        let id = KeyId([7; KEY_ID_LEN]);
        std::fs::write(&path, encode(id)).unwrap();
        assert_eq!(read(&path).unwrap(), Some(id));
        let mut bytes = encode(id);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.to_string().contains("keycheck"), "{err}");
    }
}
