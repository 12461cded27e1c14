//! Store-level tests of the sealed blob store: imports, exports by range, the observed bitfield,
//! deletes, tags across a reopen, tampered groups and a wrong key (HS-REST-6).

use std::path::{Path, PathBuf};

use bao_tree::{ChunkNum, ChunkRanges};
use iroh_blobs::api::Store;
use iroh_blobs::api::blobs::BlobStatus;
use iroh_blobs::store::mem::MemStore;
use iroh_blobs::{Hash, HashAndFormat};
use n0_future::StreamExt;

use super::groups::{GROUP_LEN, SLOT_LEN};
use super::*;
use crate::keys::DataKey;

fn key(b: u8) -> DataKey {
    DataKey::from_bytes([b; 32])
}

/// Recognisable bytes: a phrase repeated, with the position mixed in so groups differ.
fn content(len: usize) -> Vec<u8> {
    let phrase = b"the treasurer proposes seventeen marmalade jars; ";
    (0..len)
        .map(|i| phrase[i % phrase.len()] ^ (((i / phrase.len()) as u8) & 0x01))
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The data file of `hash` in the store at `dir`.
fn data_file(dir: &Path, key: &DataKey, hash: &Hash) -> PathBuf {
    let cipher = cipher::BlobCipher::new(key).unwrap();
    dir.join("b").join(cipher.entry_name(hash)).join("data")
}

async fn export_all(store: &Store, hash: Hash) -> Vec<u8> {
    store
        .blobs()
        .export_bao(hash, ChunkRanges::all())
        .data_to_vec()
        .await
        .expect("export")
}

#[tokio::test]
async fn import_export_ranges_and_no_plaintext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &key(1), None).await.expect("open");
    let data = content(5 * GROUP_LEN as usize + 1234);
    let tag = store.blobs().add_slice(&data).temp_tag().await.expect("add");
    let hash = tag.hash();
    assert_eq!(hash, Hash::new(&data));
    assert!(store.blobs().has(hash).await.unwrap());
    assert_eq!(
        store.blobs().status(hash).await.unwrap(),
        BlobStatus::Complete {
            size: data.len() as u64
        }
    );
    assert_eq!(export_all(&store, hash).await, data);
    // A byte range across two groups.
    let part = store
        .blobs()
        .export_ranges(hash, 16_000..40_000)
        .concatenate()
        .await
        .expect("ranges");
    assert_eq!(part, data[16_000..40_000]);
    // A bao stream for another store verifies against the hash.
    let bao = store
        .blobs()
        .export_bao(hash, ChunkRanges::all())
        .bao_to_vec()
        .await
        .unwrap();
    let mem = MemStore::new();
    mem.blobs()
        .import_bao_bytes(hash, ChunkRanges::all(), bao)
        .await
        .expect("verified by another store");
    assert_eq!(mem.blobs().get_bytes(hash).await.unwrap(), data);
    // Plain file import (two passes) gives the same hash.
    let source = dir.path().join("source.bin");
    std::fs::write(&source, &data).unwrap();
    let again = store
        .blobs()
        .add_path(&source)
        .temp_tag()
        .await
        .expect("add path");
    assert_eq!(again.hash(), hash);
    std::fs::remove_file(&source).unwrap();
    store.shutdown().await.unwrap();
    for path in files_under(dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, b"marmalade"), "plaintext in {}", path.display());
        assert!(
            !path.to_string_lossy().contains(&hash.to_hex()),
            "hash in a file name"
        );
    }
}

#[tokio::test]
async fn a_partial_blob_is_observed_and_resumes_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(8 * GROUP_LEN as usize);
    let source = MemStore::new();
    let hash = source.blobs().add_slice(&data).temp_tag().await.unwrap().hash();
    let first = ChunkRanges::from(ChunkNum(0)..ChunkNum(48)); // groups 0..3
    let bao = source
        .blobs()
        .export_bao(hash, first.clone())
        .bao_to_vec()
        .await
        .unwrap();
    {
        let store = open(dir.path(), &key(2), None).await.expect("open");
        store
            .blobs()
            .import_bao_bytes(hash, first.clone(), bao)
            .await
            .expect("import");
        let bitfield = store.blobs().observe(hash).await.expect("observe");
        assert_eq!(bitfield.ranges, first);
        assert!(!bitfield.is_complete());
        assert!(matches!(
            store.blobs().status(hash).await.unwrap(),
            BlobStatus::Partial { .. }
        ));
        store.shutdown().await.unwrap();
    }
    let store = open(dir.path(), &key(2), None).await.expect("reopen");
    let bitfield = store.blobs().observe(hash).await.expect("observe");
    assert_eq!(bitfield.ranges, first, "the groups present survive a reopen");
    // An observer sees the rest arrive.
    let mut updates = store
        .blobs()
        .observe(hash)
        .stream()
        .await
        .expect("observe stream");
    let rest = ChunkRanges::from(ChunkNum(48)..);
    let bao = source
        .blobs()
        .export_bao(hash, rest.clone())
        .bao_to_vec()
        .await
        .unwrap();
    store
        .blobs()
        .import_bao_bytes(hash, rest, bao)
        .await
        .expect("rest");
    let mut complete = false;
    while let Some(bitfield) = updates.next().await {
        if bitfield.is_complete() {
            complete = true;
            break;
        }
    }
    assert!(complete);
    assert_eq!(export_all(&store, hash).await, data);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn tags_persist_and_deletes_remove_files() {
    let dir = tempfile::tempdir().unwrap();
    let (store, commands) = open_with_commands(dir.path(), &key(3), None).await.expect("open");
    let a = store
        .blobs()
        .add_slice(content(100))
        .temp_tag()
        .await
        .unwrap()
        .hash();
    let b = store
        .blobs()
        .add_slice(content(70_000))
        .temp_tag()
        .await
        .unwrap()
        .hash();
    store.tags().set("keep/a", HashAndFormat::raw(a)).await.unwrap();
    store.tags().set("keep/b", HashAndFormat::raw(b)).await.unwrap();
    store.tags().delete("keep/b").await.unwrap();
    store.sync_db().await.unwrap();
    // Force: both were written since the last sweep's mark.
    gc::delete(&commands, vec![b], true).await.expect("delete");
    assert!(!store.blobs().has(b).await.unwrap());
    let listed = store.blobs().list().hashes().await.unwrap();
    assert_eq!(listed, vec![a]);
    assert!(!data_file(dir.path(), &key(3), &b).exists());
    store.shutdown().await.unwrap();

    let store = open(dir.path(), &key(3), None).await.expect("reopen");
    let tags: Vec<_> = store
        .tags()
        .list()
        .await
        .unwrap()
        .map(|t| t.unwrap())
        .collect()
        .await;
    assert_eq!(tags.len(), 1);
    assert_eq!(
        (&tags[0].name, tags[0].hash),
        (&iroh_blobs::api::Tag::from("keep/a"), a)
    );
    assert!(store.blobs().has(a).await.unwrap());
    assert!(!store.blobs().has(b).await.unwrap());
    store.shutdown().await.unwrap();
}

/// A flipped byte, then two swapped groups: the read fails with an error naming the data file,
/// the group is dropped (the blob is partial, fetched again), nothing wrong is served.
#[tokio::test]
async fn tampered_groups_are_refused_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(4 * GROUP_LEN as usize);
    let store = open(dir.path(), &key(4), None).await.expect("open");
    let hash = store.blobs().add_slice(&data).temp_tag().await.unwrap().hash();
    store.shutdown().await.unwrap();
    let file = data_file(dir.path(), &key(4), &hash);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[SLOT_LEN as usize + 40] ^= 0x20; // group 1
    std::fs::write(&file, &bytes).unwrap();

    let store = open(dir.path(), &key(4), None).await.expect("reopen");
    let out = dir.path().join("out.bin");
    let err = store.blobs().export(hash, &out).await.expect_err("tampered");
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    assert!(
        text.contains("failed authentication") && text.contains("data"),
        "{text}"
    );
    assert!(text.contains("chunk group 1"), "{text}");
    let bitfield = store.blobs().observe(hash).await.unwrap();
    assert!(!bitfield.is_complete());
    assert_eq!(
        bitfield.ranges,
        ChunkRanges::from(ChunkNum(0)..ChunkNum(16)) | ChunkRanges::from(ChunkNum(32)..)
    );
    // Refetched: the group arrives again and the blob is whole.
    let source = MemStore::new();
    let _kept = source.blobs().add_slice(&data).temp_tag().await.unwrap();
    let missing = ChunkRanges::from(ChunkNum(16)..ChunkNum(32));
    let bao = source
        .blobs()
        .export_bao(hash, missing.clone())
        .bao_to_vec()
        .await
        .unwrap();
    store
        .blobs()
        .import_bao_bytes(hash, missing, bao)
        .await
        .expect("refetch");
    assert_eq!(export_all(&store, hash).await, data);
    store.shutdown().await.unwrap();

    // Swap groups 2 and 3 (full slots): both fail, never served swapped.
    let mut bytes = std::fs::read(&file).unwrap();
    let slot = SLOT_LEN as usize;
    let (two, three) = (
        bytes[2 * slot..3 * slot].to_vec(),
        bytes[3 * slot..4 * slot].to_vec(),
    );
    bytes[2 * slot..3 * slot].copy_from_slice(&three);
    bytes[3 * slot..4 * slot].copy_from_slice(&two);
    std::fs::write(&file, &bytes).unwrap();
    let store = open(dir.path(), &key(4), None).await.expect("reopen");
    let served = store
        .blobs()
        .export_bao(hash, ChunkRanges::all())
        .data_to_vec()
        .await;
    assert!(served.is_err(), "served swapped groups");
    let tail = store
        .blobs()
        .export_ranges(hash, 3 * GROUP_LEN..4 * GROUP_LEN)
        .concatenate()
        .await;
    assert!(tail.is_err(), "served a swapped group");
    let bitfield = store.blobs().observe(hash).await.unwrap();
    assert_eq!(bitfield.ranges, ChunkRanges::from(ChunkNum(0)..ChunkNum(32)));
    store.shutdown().await.unwrap();

    // Truncate the file inside group 1: group 1 is dropped as well.
    let file_len = std::fs::metadata(&file).unwrap().len();
    assert!(file_len > SLOT_LEN + 100);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(SLOT_LEN + 100)
        .unwrap();
    let store = open(dir.path(), &key(4), None).await.expect("reopen");
    let err = store
        .blobs()
        .export_ranges(hash, 0..2 * GROUP_LEN)
        .concatenate()
        .await;
    assert!(err.is_err(), "served past a truncation");
    let bitfield = store.blobs().observe(hash).await.unwrap();
    assert_eq!(bitfield.ranges, ChunkRanges::from(ChunkNum(0)..ChunkNum(16)));
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_wrong_key_is_refused_naming_the_key_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &key(5), None).await.expect("open");
    let _kept = store.blobs().add_slice(b"x").temp_tag().await.unwrap();
    store.shutdown().await.unwrap();
    let err = open(dir.path(), &key(6), None).await.expect_err("wrong key");
    assert!(matches!(err, SealedBlobError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("keycheck"), "{err}");
    open(dir.path(), &key(5), None)
        .await
        .expect("right key")
        .shutdown()
        .await
        .unwrap();
}

/// HS-REST-5: a plain store's blobs and tags move into the sealed store; rotation re-seals
/// them; decrypting brings them back to a plain store. Nothing plain is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_rotate_and_decrypt() {
    let storage = tempfile::tempdir().unwrap();
    let data = content(3 * GROUP_LEN as usize + 7);
    let plain_dir = migrate::store_dir(storage.path(), false);
    let hash = {
        let plain = iroh_blobs::store::fs::FsStore::load(&plain_dir).await.unwrap();
        let hash = plain.blobs().add_slice(&data).temp_tag().await.unwrap().hash();
        plain
            .tags()
            .set("humansync/blob/x", HashAndFormat::raw(hash))
            .await
            .unwrap();
        plain.shutdown().await.unwrap();
        hash
    };
    let (old, new) = (key(7), key(8));
    let path = storage.path().to_path_buf();
    let report = {
        let (path, old) = (path.clone(), old.clone());
        tokio::task::spawn_blocking(move || migrate::settle(&path, std::slice::from_ref(&old), Some(&old)))
            .await
            .unwrap()
            .expect("migrate")
    };
    assert_eq!((report.blobs, report.tags), (1, 1));
    assert!(!plain_dir.exists(), "the plain store is removed");
    let sealed_dir = migrate::store_dir(storage.path(), true);
    for file in files_under(&sealed_dir) {
        assert!(
            !contains(&std::fs::read(&file).unwrap(), b"marmalade"),
            "{}",
            file.display()
        );
    }
    // Rotation: old key to new key.
    {
        let (path, old, new) = (path.clone(), old.clone(), new.clone());
        tokio::task::spawn_blocking(move || migrate::settle(&path, &[old, new.clone()], Some(&new)))
            .await
            .unwrap()
            .expect("rotate");
    }
    assert!(
        open(&sealed_dir, &old, None).await.is_err(),
        "old key still opens"
    );
    let store = open(&sealed_dir, &new, None).await.expect("new key");
    assert_eq!(export_all(&store, hash).await, data);
    let tags = store.tags().list().await.unwrap().collect::<Vec<_>>().await;
    assert_eq!(tags.len(), 1);
    store.shutdown().await.unwrap();
    // Decrypt: back to a plain store.
    {
        let (path, new) = (path.clone(), new.clone());
        tokio::task::spawn_blocking(move || migrate::settle(&path, &[new], None))
            .await
            .unwrap()
            .expect("decrypt");
    }
    assert!(!sealed_dir.exists());
    let plain = iroh_blobs::store::fs::FsStore::load(&plain_dir).await.unwrap();
    assert_eq!(plain.blobs().get_bytes(hash).await.unwrap(), data);
    plain.shutdown().await.unwrap();
}
