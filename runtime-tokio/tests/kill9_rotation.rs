//! kill -9 during key rotation (HS-REST-5): the test binary re-invokes itself as a child that
//! rotates the device data key again and again (`rotation_child`), SIGKILLs it at a seeded random
//! moment, and checks that the store opens with the device key source and holds every document,
//! and that the sealed blob store (HS-REST-6) is under the same key with every blob and tag.
//!
//! `KILL9_ROTATION_ITERATIONS` (default 12) and `KILL9_SEED` override the defaults.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

#[path = "store_support/mod.rs"]
mod common;
#[path = "kill9_support/mod.rs"]
mod kill9_support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use automerge::AutoCommit;
use common::{Doc, doc_id, get_int, peer};
use humansync::KeySource;
use kill9_support::{Writer, below};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

const CHILD_ENV: &str = "HUMANSYNC_KILL9_ROTATION_CHILD";
const DOCS: usize = 200;
const BLOBS: u64 = 3;

fn blob_bytes(n: u64) -> Vec<u8> {
    (0..150_000u64)
        .map(|i| (i * 7 + n * 13) as u8 ^ (i >> 9) as u8)
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Adds the test blobs, each kept by a tag, to the sealed blob store under `key`.
fn add_blobs(storage: &Path, key: &humansync::DataKey) {
    let dir = humansync::transport::sealed_blobs::migrate::store_dir(storage, true);
    runtime().block_on(async {
        let store = humansync::transport::sealed_blobs::open(&dir, key, None)
            .await
            .unwrap();
        for n in 0..BLOBS {
            let tag = store.blobs().add_slice(blob_bytes(n)).temp_tag().await.unwrap();
            store.tags().set(format!("blob/{n}"), &tag).await.unwrap();
        }
        store.sync_db().await.unwrap();
        store.shutdown().await.unwrap();
    });
}

/// Every test blob is whole under `key` and kept by its tag; returns an error message if not.
fn check_blobs(storage: &Path, key: &humansync::DataKey) -> Result<(), String> {
    let dir = humansync::transport::sealed_blobs::migrate::store_dir(storage, true);
    runtime().block_on(async {
        let store = humansync::transport::sealed_blobs::open(&dir, key, None)
            .await
            .map_err(|e| e.to_string())?;
        for n in 0..BLOBS {
            let tag = store
                .tags()
                .get(format!("blob/{n}"))
                .await
                .map_err(|e| e.to_string())?;
            let tag = tag.ok_or(format!("tag blob/{n} missing"))?;
            let bytes = store
                .blobs()
                .get_bytes(tag.hash)
                .await
                .map_err(|e| e.to_string())?;
            if bytes != blob_bytes(n) {
                return Err(format!("blob {n} differs"));
            }
        }
        store.shutdown().await.map_err(|e| e.to_string())
    })
}

/// The rotator. Runs only when re-invoked by [`kill9_during_rotation`] with the storage path.
#[test]
fn rotation_child() {
    let Ok(storage) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut out = std::io::stdout().lock();
    writeln!(out).unwrap();
    loop {
        let id = humansync::rotate_device_key(Path::new(&storage)).unwrap();
        writeln!(out, "rotated {id}").unwrap();
        out.flush().unwrap();
    }
}

/// A kill while the commit marker was being written left an empty `rekey/COMMIT` (before the
/// marker was renamed into place whole): the next open read it as the commit of a plain store,
/// removed the key check and failed with "wal: file is encrypted (no data key given)" (found by
/// kill9_during_rotation, iteration 9). An incomplete marker is no commit: the store opens under
/// its key with every document.
#[test]
fn an_incomplete_commit_marker_is_not_a_commit() {
    let storage = tempfile::tempdir().unwrap();
    {
        let mut store = humansync::open_store(storage.path(), &KeySource::DeviceFile).unwrap();
        let batch: Vec<_> = (0..10)
            .map(|n| {
                let mut doc = Doc::new(doc_id(n), 1);
                doc.set("v", n as i64);
                doc.save(true, vec![])
            })
            .collect();
        store.apply(&batch).unwrap();
        store.close().unwrap();
    }
    let staging = storage.path().join("store/rekey");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("COMMIT"), b"").unwrap();
    let store = humansync::open_store(storage.path(), &KeySource::DeviceFile)
        .unwrap_or_else(|e| panic!("reopen after an incomplete commit marker: {e}"));
    assert!(!staging.exists(), "the uncommitted staging is undone");
    for n in 0..10 {
        let (bytes, _) = store.load(&doc_id(n)).unwrap().expect("document kept");
        assert_eq!(get_int(&AutoCommit::load(&bytes).unwrap(), "v"), Some(n as i64));
    }
    store.close().unwrap();
}

#[test]
fn kill9_during_rotation() {
    let iterations: u64 = std::env::var("KILL9_ROTATION_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("KILL9_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let storage = tempfile::tempdir().unwrap();
    {
        let mut store = humansync::open_store(storage.path(), &KeySource::DeviceFile).unwrap();
        let batch: Vec<_> = (0..DOCS)
            .map(|n| {
                let mut doc = Doc::new(doc_id(n), 1);
                doc.set("v", n as i64);
                doc.save(true, vec![(peer(2), vec![n as u8; 40])])
            })
            .collect();
        store.apply(&batch).unwrap();
        store.close().unwrap();
    }
    let (store, key) = humansync::open_stores(storage.path(), &KeySource::DeviceFile).unwrap();
    store.close().unwrap();
    add_blobs(storage.path(), &key.unwrap());
    let (mut rotations, mut interrupted, mut committed) = (0, 0, 0);
    for it in 0..iterations {
        let writer = Writer::spawn("rotation_child", CHILD_ENV, storage.path().display().to_string());
        std::thread::sleep(Duration::from_millis(below(&mut rng, 2500)));
        writer.kill(|line| rotations += u64::from(line.starts_with("rotated")));
        let staged = storage.path().join("store/rekey").exists();
        let next = storage.path().join("data.key.next").exists();
        interrupted += u64::from(staged || next);
        committed += u64::from(storage.path().join("store/rekey/COMMIT").exists());
        interrupted += u64::from(storage.path().join("blobs-rekey").exists());
        committed += u64::from(storage.path().join("blobs-rekey/COMMIT").exists());

        let (store, key) = humansync::open_stores(storage.path(), &KeySource::DeviceFile)
            .unwrap_or_else(|e| panic!("iteration {it}: reopen failed: {e}"));
        assert!(
            !storage.path().join("blobs-rekey").exists(),
            "iteration {it}: blob staging left behind"
        );
        check_blobs(storage.path(), &key.unwrap()).unwrap_or_else(|e| panic!("iteration {it}: blobs: {e}"));
        assert!(
            !storage.path().join("data.key.next").exists(),
            "iteration {it}: rotation left unsettled"
        );
        assert!(
            !storage.path().join("store/rekey").exists(),
            "iteration {it}: staging left behind"
        );
        assert!(
            store.quarantined().is_empty(),
            "iteration {it}: {:?}",
            store.quarantine_reports()
        );
        for n in 0..DOCS {
            let (bytes, sync) = store
                .load(&doc_id(n))
                .unwrap_or_else(|e| panic!("iteration {it}: doc {n}: {e}"))
                .unwrap_or_else(|| panic!("iteration {it}: doc {n} missing"));
            assert_eq!(get_int(&AutoCommit::load(&bytes).unwrap(), "v"), Some(n as i64));
            assert_eq!(sync, vec![(peer(2), vec![n as u8; 40])]);
        }
        store.close().unwrap();
    }
    println!(
        "{iterations} kills, {rotations} rotations completed, {interrupted} kills left a rotation to settle, \
         {committed} of them after its commit (rolled forward)"
    );
}
