//! Tags: names that keep blobs (iroh-blobs' persistent roots), sealed in one file.
//!
//! The file is `magic ‖ sealed(postcard list of (name, hash and format))`, replaced whole at
//! `sync_db` and shutdown when a tag changed (files.rs). Tags are few (one or two per kept
//! blob), so a whole rewrite stays small.

use std::collections::BTreeMap;
use std::path::Path;

use iroh_blobs::HashAndFormat;
use iroh_blobs::api::Tag;

use super::cipher::{Aad, BlobCipher};
use super::error::SealedBlobError;
use super::files;

/// Magic of the tags file.
pub(crate) const MAGIC: &[u8; 8] = b"HSBTAG\x00\x01";
/// Largest tags file read (about 400,000 tags).
pub(crate) const MAX_TAGS_LEN: u64 = 64 << 20;

/// The tags of a store and whether they changed since they were last written.
#[derive(Debug, Default)]
pub(crate) struct Tags {
    /// Tag name to content.
    pub(crate) map: BTreeMap<Tag, HashAndFormat>,
    dirty: bool,
}

impl Tags {
    /// The tags in `path`, empty when the file does not exist.
    pub(crate) fn load(cipher: &BlobCipher, path: &Path) -> Result<Tags, SealedBlobError> {
        let Some(bytes) = files::read_bounded(path, MAX_TAGS_LEN)? else {
            return Ok(Tags::default());
        };
        Tags::decode(cipher, path, &bytes)
    }

    /// The tags in `bytes`, the contents of the tags file `path` (named in errors).
    pub(crate) fn decode(cipher: &BlobCipher, path: &Path, bytes: &[u8]) -> Result<Tags, SealedBlobError> {
        let sealed = bytes
            .strip_prefix(&MAGIC[..])
            .ok_or_else(|| SealedBlobError::malformed(path, "not a tags file"))?;
        let plain = cipher
            .open(Aad::Tags, sealed)
            .ok_or_else(|| SealedBlobError::Tampered {
                path: path.to_path_buf(),
                what: "tags".to_owned(),
            })?;
        let list: Vec<(Tag, HashAndFormat)> =
            postcard::from_bytes(&plain).map_err(|e| SealedBlobError::malformed(path, e.to_string()))?;
        Ok(Tags {
            map: list.into_iter().collect(),
            dirty: false,
        })
    }

    /// Marks the tags changed.
    pub(crate) fn touch(&mut self) {
        self.dirty = true;
    }

    /// Writes the tags to `path` if they changed.
    pub(crate) fn save(&mut self, cipher: &BlobCipher, path: &Path) -> Result<(), SealedBlobError> {
        if !self.dirty {
            return Ok(());
        }
        files::replace(path, &self.encode(cipher, path)?)?;
        self.dirty = false;
        Ok(())
    }

    /// The tags file's bytes (`path` is named in errors).
    pub(crate) fn encode(&self, cipher: &BlobCipher, path: &Path) -> Result<Vec<u8>, SealedBlobError> {
        let list: Vec<(&Tag, &HashAndFormat)> = self.map.iter().collect();
        let plain =
            postcard::to_allocvec(&list).map_err(|e| SealedBlobError::malformed(path, e.to_string()))?;
        let mut out = MAGIC.to_vec();
        cipher.seal_into(Aad::Tags, &plain, &mut out);
        Ok(out)
    }

    /// The tags in `[from, to)` (unbounded where `None`).
    pub(crate) fn range<'a>(
        &'a self,
        from: &'a Option<Tag>,
        to: &'a Option<Tag>,
    ) -> impl Iterator<Item = (&'a Tag, &'a HashAndFormat)> + 'a {
        self.map.iter().filter(move |(tag, _)| {
            from.as_ref().is_none_or(|f| *tag >= f) && to.as_ref().is_none_or(|t| *tag < t)
        })
    }
}
