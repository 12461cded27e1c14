//! Data at rest (issue 21): no plaintext under an encrypted store (HS-REST-3, HS-REST-4), tampered
//! records are corruption (quarantine), a wrong key is refused (HS-REST-2), migration and rotation
//! keep every document (HS-REST-5).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

#[path = "store_support/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use common::{Doc, doc_id, get_int, peer, test_key};
use humansync::DataKey;
use humansync::store::{DocStore, StoreError, StoreOp, StoreOptions};
use humansync_protocol::{BlobHash, Cursor, DocId};

const TITLE: &str = "Quarterly plan for the Zanzibar expedition";
const BODY: &str = "pack the heliotrope umbrellas before sunrise";
const SECRET_ID: &str = "notes/zanzibar-expedition";
const SYNC_STATE: &[u8] = b"sync-state-marker-7f3a";

fn key(b: u8) -> DataKey {
    DataKey::from_bytes([b; 32])
}

fn open(dir: &Path, key: Option<&DataKey>) -> Result<DocStore, StoreError> {
    DocStore::open_keyed(dir, StoreOptions::default(), key)
}

/// A note with a title and a body, saved the way the core saves it.
fn note() -> (DocId, StoreOp, AutoCommit) {
    let id = DocId::new(SECRET_ID).unwrap();
    let mut am = AutoCommit::new();
    am.put(ROOT, "title", TITLE).unwrap();
    am.put(ROOT, "body", BODY).unwrap();
    let op = StoreOp::Save {
        doc: id.clone(),
        write: Some(humansync_sansio::DocWrite::Replace(am.save().into())),
        meta: humansync_sansio::DocMeta {
            heads: common::heads(&mut am).into_iter().collect(),
            ..Default::default()
        },
        sync_states: vec![(peer(2), SYNC_STATE.to_vec())],
    };
    (id, op, am)
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The needles found in any byte or file name under `dir`.
fn plaintext_under(dir: &Path) -> Vec<String> {
    let needles: [&[u8]; 4] = [
        TITLE.as_bytes(),
        BODY.as_bytes(),
        SECRET_ID.as_bytes(),
        SYNC_STATE,
    ];
    let mut found = Vec::new();
    for path in files(dir) {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.to_string_lossy().into_owned();
        for needle in needles {
            if bytes.windows(needle.len()).any(|w| w == needle) || name.contains("zanzibar") {
                found.push(format!(
                    "{} in {}",
                    String::from_utf8_lossy(needle),
                    path.display()
                ));
            }
        }
    }
    found
}

/// A workload leaving data in every store file: the log (not checkpointed), the document file,
/// the index, cursors and blob ages.
fn workload(dir: &Path, key: Option<&DataKey>) {
    let mut store = open(dir, key).unwrap();
    let (_, op, _) = note();
    store.apply(&[op]).unwrap();
    store.checkpoint().unwrap();
    let (_, op, _) = note();
    store.apply(&[op]).unwrap(); // stays in the log: the store is dropped, not closed
    store
        .save_cursors(&[(peer(3), Cursor { epoch: 9, seq: 4 })])
        .unwrap();
    store
        .save_blob_unreferenced_since(&[(BlobHash([0x5a; 32]), 77)])
        .unwrap();
}

/// HS-REST-3, HS-REST-4: the same workload leaves the needles in a plain store (so the grep
/// can fail) and none in an encrypted one, in no file content and no file name.
#[test]
fn no_plaintext_under_an_encrypted_store() {
    let plain = tempfile::tempdir().unwrap();
    workload(plain.path(), None);
    let found = plaintext_under(plain.path());
    assert!(
        found.len() >= 3,
        "the plain store must show the needles: {found:?}"
    );

    let sealed = tempfile::tempdir().unwrap();
    workload(sealed.path(), Some(&key(1)));
    assert_eq!(plaintext_under(sealed.path()), Vec::<String>::new());
    // And everything reads back (the log is replayed under the key).
    let store = open(sealed.path(), Some(&key(1))).unwrap();
    let (id, _, _) = note();
    let (bytes, sync) = store.load(&id).unwrap().unwrap();
    let title = AutoCommit::load(&bytes)
        .unwrap()
        .get(ROOT, "title")
        .unwrap()
        .map(|(v, _)| v.to_string());
    assert_eq!(title, Some(format!("{TITLE:?}")));
    assert_eq!(sync, vec![(peer(2), SYNC_STATE.to_vec())]);
    assert_eq!(store.cursors(), vec![(peer(3), Cursor { epoch: 9, seq: 4 })]);
    assert_eq!(store.blob_unreferenced_since(), vec![(BlobHash([0x5a; 32]), 77)]);
    store.close().unwrap();
    assert_eq!(plaintext_under(sealed.path()), Vec::<String>::new());
}

/// HS-REST-2: a wrong key or no key is refused with an error naming the key check file; a
/// plain store opened with a key asks for migration. Nothing is changed by a refused open.
#[test]
fn wrong_key_and_missing_key_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    workload(dir.path(), Some(&key(1)));
    let before: Vec<_> = files(dir.path())
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let err = open(dir.path(), Some(&key(2))).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("keycheck"), "{err}");
    let err = open(dir.path(), None).unwrap_err();
    assert!(matches!(err, StoreError::KeyRequired(_)), "{err}");
    let after: Vec<_> = files(dir.path())
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(before, after, "a refused open changed the store");

    let plain = tempfile::tempdir().unwrap();
    workload(plain.path(), None);
    let err = open(plain.path(), Some(&key(1))).unwrap_err();
    assert!(matches!(err, StoreError::NotEncrypted(_)), "{err}");
}

/// Records of a document file as (kind, payload), read with the record framing.
fn records(bytes: &[u8], start: usize) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 9 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push((bytes[at + 8], bytes[at + 9..at + 9 + len].to_vec()));
        at += 9 + len;
    }
    out
}

/// Frames records with valid checksums: only the seal can catch what was changed.
fn frame(header: &[u8], records: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = header.to_vec();
    for (kind, payload) in records {
        let len = (payload.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(&[*kind]);
        crc.update(payload);
        out.extend_from_slice(&len);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.push(*kind);
        out.extend_from_slice(payload);
    }
    out
}

/// Sealed header: magic and salt.
const HEADER: usize = 20;

/// HS-REST-3: a byte flipped under a valid checksum, two records swapped, a record spliced in
/// from an older version of the file, another document's file put in place, a truncation: each
/// is corruption (quarantined, reported), never accepted; a `Replace` recovers the document.
#[test]
fn tampered_records_are_quarantined() {
    type Tamper = fn(&[u8], &[u8], &[u8]) -> Vec<u8>;
    // (current file, an older version of it, another document's file) -> tampered file
    let cases: [(&str, Tamper); 5] = [
        ("flip under a valid checksum", |cur, _, _| {
            let mut recs = records(cur, HEADER);
            let last = recs.len() - 1;
            recs[last].1[20] ^= 1;
            frame(&cur[..HEADER], &recs)
        }),
        ("two records swapped", |cur, _, _| {
            let mut recs = records(cur, HEADER);
            recs.swap(1, 2);
            frame(&cur[..HEADER], &recs)
        }),
        ("record spliced from an older version", |cur, old, _| {
            let mut recs = records(cur, HEADER);
            let old_recs = records(old, HEADER);
            recs[1] = old_recs[1].clone();
            frame(&cur[..HEADER], &recs)
        }),
        ("another document's file", |_, _, other| other.to_vec()),
        ("truncated", |cur, _, _| cur[..cur.len() - 5].to_vec()),
    ];
    for (name, tamper) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut store = common::open(dir.path()).unwrap();
        let mut doc = Doc::new(doc_id(1), 1);
        let mut other = Doc::new(doc_id(2), 1);
        doc.set("v", 1);
        other.set("v", 9);
        store
            .apply(&[doc.save(true, vec![]), other.save(true, vec![])])
            .unwrap();
        let path = store.doc_file(&doc.id);
        let old = std::fs::read(&path).unwrap();
        doc.set("v", 2);
        store
            .apply(&[doc.save(true, vec![(peer(2), b"s".to_vec())])])
            .unwrap();
        doc.set("v", 3);
        store.apply(&[doc.save(false, vec![])]).unwrap();
        store.close().unwrap();
        let mut store = common::open(dir.path()).unwrap();
        let cur = std::fs::read(&path).unwrap();
        let other_bytes = std::fs::read(store.doc_file(&other.id)).unwrap();
        std::fs::write(&path, tamper(&cur, &old, &other_bytes)).unwrap();

        let err = store.load(&doc.id).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{name}: {err}");
        assert_eq!(store.quarantined(), vec![doc.id.clone()], "{name}");
        assert!(
            store.load(&other.id).unwrap().is_some(),
            "{name}: the other document suffered"
        );
        // Recovery from a peer is a whole-document Replace.
        store.apply(&[doc.save(true, vec![])]).unwrap();
        let (bytes, _) = store.load(&doc.id).unwrap().unwrap();
        assert_eq!(
            get_int(&AutoCommit::load(&bytes).unwrap(), "v"),
            Some(3),
            "{name}"
        );
    }
}

/// HS-REST-5: a plain store is migrated, then rotated to a new key; every document, sync state,
/// cursor and blob age survives each step, the old key no longer opens the store, and no
/// plaintext is left behind (HS-REST-7: the old files and the staging are gone).
#[test]
fn migration_and_rotation_keep_everything() {
    let dir = tempfile::tempdir().unwrap();
    workload(dir.path(), None);
    let mut docs: Vec<Doc> = (0..30).map(|n| Doc::new(doc_id(n), 1)).collect();
    {
        let mut store = open(dir.path(), None).unwrap();
        let batch: Vec<StoreOp> = docs
            .iter_mut()
            .map(|d| {
                d.set("v", 5);
                d.save(false, vec![(peer(4), b"st".to_vec())])
            })
            .collect();
        store.apply(&batch).unwrap();
        store.apply(&[StoreOp::Delete { doc: doc_id(0) }]).unwrap();
    }
    let check = |store: &DocStore| {
        assert_eq!(store.load(&doc_id(0)).unwrap(), None);
        for d in &docs[1..] {
            let (bytes, sync) = store.load(&d.id).unwrap().unwrap();
            assert_eq!(get_int(&AutoCommit::load(&bytes).unwrap(), "v"), Some(5));
            assert_eq!(sync, vec![(peer(4), b"st".to_vec())]);
        }
        let (id, _, _) = note();
        assert!(store.load(&id).unwrap().is_some());
        assert_eq!(store.cursors(), vec![(peer(3), Cursor { epoch: 9, seq: 4 })]);
        assert_eq!(store.blob_unreferenced_since(), vec![(BlobHash([0x5a; 32]), 77)]);
        assert!(
            store
                .startup()
                .index
                .iter()
                .any(|(d, m)| *d == doc_id(0) && m.tombstone)
        );
    };

    let report = DocStore::rekey(dir.path(), StoreOptions::default(), None, Some(&test_key())).unwrap();
    assert_eq!((report.docs, report.lost.len()), (31, 0));
    assert_eq!(plaintext_under(dir.path()), Vec::<String>::new());
    check(&common::open(dir.path()).unwrap());

    DocStore::rekey(
        dir.path(),
        StoreOptions::default(),
        Some(&test_key()),
        Some(&key(7)),
    )
    .unwrap();
    assert!(matches!(
        common::open(dir.path()),
        Err(StoreError::WrongKey { .. })
    ));
    let store = open(dir.path(), Some(&key(7))).unwrap();
    check(&store);
    drop(store);
    assert!(!dir.path().join("rekey").exists() && !dir.path().join("docs.old").exists());

    // And back to plain (encryption turned off).
    DocStore::rekey(dir.path(), StoreOptions::default(), Some(&key(7)), None).unwrap();
    check(&open(dir.path(), None).unwrap());
}
