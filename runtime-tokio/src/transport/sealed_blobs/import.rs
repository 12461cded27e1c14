//! Imports: verified bao streams from peers into an entry, and local bytes, files and streams
//! staged as complete entries.
//!
//! A local import knows its hash only at the end, and every group is sealed bound to the hash,
//! so it takes two passes over the source: the first computes the outboard (and so the hash)
//! into the staging directory, the second seals the groups and hashes the bytes again, so a
//! file that changed between the passes is refused rather than stored under a wrong hash.
//! The staged directory (data, outboard, state, all synced) then replaces the entry whole
//! ([`super::entry::Entry::install`]): a kill leaves the old entry or the new one.

use std::io::{BufWriter, Read, Write};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bao_tree::io::BaoContentItem;
use bao_tree::io::outboard::PreOrderMemOutboard;
use bytes::Bytes;
use iroh_blobs::Hash;
use iroh_blobs::api::proto::{AddProgressItem, ImportByteStreamUpdate};
use irpc::channel::{mpsc, oneshot};

use super::cipher::{Aad, BlobCipher};
use super::entry::Entry;
use super::error::SealedBlobError;
use super::groups::{self, GROUP_LEN};
use super::outboard::{FileOutboard, tree};
use super::state::{BlobState, Groups};
use super::write_batch::WriteBatch;

/// A complete blob written to a staging directory, ready to install.
#[derive(Debug)]
pub(crate) struct Staged {
    /// The staging directory.
    pub(crate) dir: PathBuf,
    /// The blob's hash.
    pub(crate) hash: Hash,
    /// Its size.
    pub(crate) size: u64,
}

/// Receives a verified bao stream for `entry` (iroh-blobs checks every item against the hash
/// before it reaches the store) and answers on `tx` when it ends. What arrived is recorded even
/// when the stream breaks, so the next fetch asks only for the rest.
pub(crate) async fn bao(
    entry: Arc<Entry>,
    size: NonZeroU64,
    mut rx: mpsc::Receiver<BaoContentItem>,
    tx: oneshot::Sender<iroh_blobs::api::Result<()>>,
) {
    let _use = entry.acquire();
    let mut batch = WriteBatch::default();
    let received = async {
        entry.begin_import(size.get())?;
        loop {
            let item = match rx.recv().await {
                Ok(Some(item)) => item,
                Ok(None) => return Ok(()),
                Err(e) => {
                    return Err(SealedBlobError::io(
                        "receive",
                        entry.data_path(),
                        std::io::Error::other(e),
                    ));
                }
            };
            match item {
                BaoContentItem::Parent(p) => entry.write_parent(p.node, &p.pair)?,
                BaoContentItem::Leaf(leaf) => entry.write_leaf(leaf.offset, &leaf.data, &mut batch)?,
            }
        }
    }
    .await;
    // Verified groups still in the batch are kept whether the stream ended or broke.
    let flushed = entry.flush(&mut batch);
    let persisted = flushed.and_then(|()| entry.persist());
    let result = received.and(persisted).map_err(|e| {
        tracing::warn!(blob = %entry.hash.fmt_short(), error = %e, "importing blob ranges failed");
        iroh_blobs::api::Error::from(e.into_io())
    });
    tx.send(result).await.ok();
}

/// Stages `data` as a complete blob under `tmp`.
pub(crate) fn stage_bytes(cipher: &BlobCipher, tmp: &Path, data: &[u8]) -> Result<Staged, SealedBlobError> {
    let outboard = PreOrderMemOutboard::create(data, iroh_blobs::store::IROH_BLOCK_SIZE);
    let hash = Hash::from_bytes(*outboard.root.as_bytes());
    let size = data.len() as u64;
    write_file(&tmp.join("outboard"), &outboard.data)?;
    seal_groups(cipher, tmp, &hash, size, data)?;
    finish(cipher, tmp, hash, size)
}

/// Stages the file at `path` as a complete blob under `tmp` (two passes, see the module docs).
pub(crate) fn stage_file(cipher: &BlobCipher, tmp: &Path, path: &Path) -> Result<Staged, SealedBlobError> {
    let open = || std::fs::File::open(path).map_err(|e| SealedBlobError::io("open", path, e));
    let size = open()?
        .metadata()
        .map_err(|e| SealedBlobError::io("stat", path, e))?
        .len();
    let outboard_path = tmp.join("outboard");
    let outboard_file = std::fs::File::create(&outboard_path)
        .map_err(|e| SealedBlobError::io("create", &outboard_path, e))?;
    outboard_file
        .set_len(tree(size).outboard_size())
        .map_err(|e| SealedBlobError::io("extend", &outboard_path, e))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, open()?.take(size));
    // The root is not known yet; `save` does not use it.
    let root = bao_tree::io::sync::outboard(
        reader,
        tree(size),
        FileOutboard::new(&Hash::EMPTY, size, &outboard_file),
    )
    .map_err(|e| SealedBlobError::io("read", path, e))?;
    outboard_file
        .sync_all()
        .map_err(|e| SealedBlobError::io("sync", &outboard_path, e))?;
    let hash = Hash::from_bytes(*root.as_bytes());
    let reader = std::io::BufReader::with_capacity(1 << 20, open()?.take(size));
    seal_groups(cipher, tmp, &hash, size, reader).map_err(|e| match e {
        SealedBlobError::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
            SealedBlobError::malformed(path, "the file changed while it was imported")
        }
        e => e,
    })?;
    finish(cipher, tmp, hash, size)
}

/// Reads `size` bytes from `source`, seals them group by group into `tmp/data`, and checks
/// that they hash to `hash`.
fn seal_groups(
    cipher: &BlobCipher,
    tmp: &Path,
    hash: &Hash,
    size: u64,
    mut source: impl Read,
) -> Result<(), SealedBlobError> {
    let path = tmp.join("data");
    let file = std::fs::File::create(&path).map_err(|e| SealedBlobError::io("create", &path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut plain = vec![0u8; GROUP_LEN as usize];
    let mut sealed = Vec::with_capacity(groups::SLOT_LEN as usize);
    let mut hasher = blake3::Hasher::new();
    for index in 0..groups::count(size) {
        let len = groups::len(size, index) as usize;
        source.read_exact(&mut plain[..len]).map_err(|e| {
            SealedBlobError::io(
                "read",
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        hasher.update(&plain[..len]);
        sealed.clear();
        cipher.seal_into(Aad::Group { hash, index }, &plain[..len], &mut sealed);
        out.write_all(&sealed)
            .map_err(|e| SealedBlobError::io("write", &path, e))?;
    }
    if hasher.finalize().as_bytes() != hash.as_bytes() {
        return Err(SealedBlobError::io(
            "read",
            &path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, "bytes changed"),
        ));
    }
    let file = out
        .into_inner()
        .map_err(|e| SealedBlobError::io("write", &path, e.into_error()))?;
    file.sync_all().map_err(|e| SealedBlobError::io("sync", &path, e))
}

/// Writes the state of a complete blob into `tmp`.
fn finish(cipher: &BlobCipher, tmp: &Path, hash: Hash, size: u64) -> Result<Staged, SealedBlobError> {
    let state = BlobState {
        hash,
        size,
        present: Groups::from(0..groups::count(size)),
    };
    write_file(
        &tmp.join("state"),
        &state.encode(cipher, &cipher.entry_name(&hash)),
    )?;
    super::files::sync_dir(tmp)?;
    Ok(Staged {
        dir: tmp.to_path_buf(),
        hash,
        size,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SealedBlobError> {
    let mut file = std::fs::File::create(path).map_err(|e| SealedBlobError::io("create", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| SealedBlobError::io("write", path, e))
}

/// Collects a byte stream in memory (as iroh-blobs' memory store does), reporting progress.
pub(crate) async fn collect_stream(
    rx: &mut mpsc::Receiver<ImportByteStreamUpdate>,
    tx: &mpsc::Sender<AddProgressItem>,
) -> std::io::Result<Bytes> {
    let mut out = Vec::new();
    loop {
        match rx.recv().await {
            Ok(Some(ImportByteStreamUpdate::Bytes(bytes))) => {
                out.extend_from_slice(&bytes);
                tx.try_send(AddProgressItem::CopyProgress(out.len() as u64))
                    .await
                    .ok();
            }
            Ok(Some(ImportByteStreamUpdate::Done)) => return Ok(out.into()),
            Ok(None) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "byte stream ended before Done",
                ));
            }
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
}
