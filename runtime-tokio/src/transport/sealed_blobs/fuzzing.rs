//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): every file the sealed blob
//! store parses from disk, given as bytes (HS-REST-6).
//!
//! The state and tags files are authenticated before they are parsed, so random bytes stop at
//! the AEAD. To reach the parsers behind it, the `*_plain` functions first seal the fuzzer's
//! bytes as the record under a fixture key, as only a holder of the key could, then read the
//! file back; an accepted record is also written again and re-read, so a target can check the
//! round trip. None of them may panic or allocate from an unchecked length: every failure is a
//! [`SealedBlobError`].

use std::path::Path;

use iroh_blobs::api::Tag;
use iroh_blobs::{BlobFormat, Hash, HashAndFormat};

use super::cipher::{Aad, BlobCipher};
use super::error::SealedBlobError;
use super::state::{BlobState, Groups};
use super::tags::Tags;
use crate::keys::DataKey;

/// A state file's contents: the blob's size and its group ranges (half-open).
pub type StateSummary = (u64, Vec<(u64, u64)>);
/// A tags file's contents, in name order.
pub type TagList = Vec<(Tag, HashAndFormat)>;

/// The fixture store: its cipher, and the blob and entry name its state files belong to.
struct Fixture {
    cipher: BlobCipher,
    name: String,
}

fn fixture() -> Result<Fixture, SealedBlobError> {
    let cipher = BlobCipher::new(&DataKey::from_bytes([0x5b; 32]))?;
    let name = cipher.entry_name(&fixture_hash());
    Ok(Fixture { cipher, name })
}

/// The blob whose entry the fixture's state files belong to.
pub fn fixture_hash() -> Hash {
    Hash::new(b"humansync fuzz blob")
}

fn summary(state: &BlobState) -> StateSummary {
    (state.size, state.bounded_ranges())
}

/// Reads `file` as the fixture entry's `state` file.
pub fn state(file: &[u8]) -> Result<StateSummary, SealedBlobError> {
    let f = fixture()?;
    BlobState::decode(&f.cipher, &f.name, Path::new("state"), file).map(|s| summary(&s))
}

/// Seals `plain` as the fixture entry's state record, reads it back, and when it is accepted
/// writes and reads it again: `(first read, second read)`.
pub fn state_plain(plain: &[u8]) -> Result<(StateSummary, StateSummary), SealedBlobError> {
    let f = fixture()?;
    let mut file = super::state::MAGIC.to_vec();
    f.cipher.seal_into(Aad::State { name: &f.name }, plain, &mut file);
    let path = Path::new("state");
    let first = BlobState::decode(&f.cipher, &f.name, path, &file)?;
    let again = BlobState::decode(&f.cipher, &f.name, path, &first.encode(&f.cipher, &f.name))?;
    Ok((summary(&first), summary(&again)))
}

fn tag_list(tags: &Tags) -> TagList {
    tags.map.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// Reads `file` as the store's `tags` file.
pub fn tags(file: &[u8]) -> Result<TagList, SealedBlobError> {
    let f = fixture()?;
    Tags::decode(&f.cipher, Path::new("tags"), file).map(|t| tag_list(&t))
}

/// Seals `plain` as the tags record, reads it back, and when it is accepted writes and reads
/// it again: `(first read, second read)`.
pub fn tags_plain(plain: &[u8]) -> Result<(TagList, TagList), SealedBlobError> {
    let f = fixture()?;
    let mut file = super::tags::MAGIC.to_vec();
    f.cipher.seal_into(Aad::Tags, plain, &mut file);
    let path = Path::new("tags");
    let mut first = Tags::decode(&f.cipher, path, &file)?;
    first.touch();
    let again = Tags::decode(&f.cipher, path, &first.encode(&f.cipher, path)?)?;
    Ok((tag_list(&first), tag_list(&again)))
}

/// Reads `file` as the store's `keycheck` file: the key id's 16 bytes.
pub fn keycheck(file: &[u8]) -> Result<[u8; 16], SealedBlobError> {
    super::files::parse_key_id(Path::new("keycheck"), file).map(|id| id.0)
}

/// Reads `file` as a re-encryption's `COMMIT` marker: the source and target directories.
pub fn commit_marker(file: &[u8]) -> Result<(&'static str, &'static str), SealedBlobError> {
    super::migrate::parse_commit(Path::new("COMMIT"), file)
}

/// Seed inputs of the target, each with its mode byte (see the target's docs): files and
/// record plaintexts as the store writes them, and their truncations. The sealed files carry
/// random nonces: generating them again changes their bytes, not what they exercise.
pub fn seeds() -> Result<Vec<(String, Vec<u8>)>, SealedBlobError> {
    let f = fixture()?;
    let hash = fixture_hash();
    let state = BlobState {
        hash,
        size: 5 * 16 * 1024 + 100,
        present: Groups::from(0..2) | Groups::from(3..6),
    };
    let state_file = state.encode(&f.cipher, &f.name);
    let state_plain = f
        .cipher
        .open(
            Aad::State { name: &f.name },
            &state_file[super::state::MAGIC.len()..],
        )
        .unwrap_or_default();
    let mut tags = Tags::default();
    for (name, format) in [("pin-1", BlobFormat::Raw), ("blob-abc", BlobFormat::HashSeq)] {
        tags.map.insert(Tag::from(name), HashAndFormat { hash, format });
    }
    let tags_file = tags.encode(&f.cipher, Path::new("tags"))?;
    let tags_plain = f
        .cipher
        .open(Aad::Tags, &tags_file[super::tags::MAGIC.len()..])
        .unwrap_or_default();
    let mut keycheck = b"HSBKEY\x00\x01".to_vec();
    keycheck.extend_from_slice(&[7; 16]);
    let with = |mode: u8, bytes: &[u8]| [&[mode][..], bytes].concat();
    let mut out = Vec::new();
    for (name, mode, bytes) in [
        ("state-file", 0, &state_file[..]),
        ("state-plain", 1, &state_plain[..]),
        ("tags-file", 2, &tags_file[..]),
        ("tags-plain", 3, &tags_plain[..]),
        ("keycheck", 4, &keycheck[..]),
        ("commit", 5, b"blobs\nblobs-sealed\n"),
    ] {
        out.push((name.to_owned(), with(mode, bytes)));
        out.push((format!("{name}-cut"), with(mode, &bytes[..bytes.len() / 2])));
    }
    Ok(out)
}
