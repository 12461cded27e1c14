//! DocStore behaviour with real Automerge documents: roundtrips, reopen, index-only start-up,
//! quarantine of damaged files, torn log tails, index rebuild (HS-SYNC-8, HS-DOC-5).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

#[path = "store_support/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use automerge::AutoCommit;
use common::{Doc, doc_id, get_int, heads, peer};
use humansync::store::{DocStore, StoreError, StoreOp, StoreOptions};
use humansync_protocol::DocId;
use humansync_sansio::DocMeta;

fn load_am(store: &DocStore, doc: &DocId) -> AutoCommit {
    let (bytes, _) = store.load(doc).unwrap().expect("stored");
    AutoCommit::load(&bytes).unwrap()
}

/// The path of `doc`'s file.
fn file_of(store: &DocStore, doc: &DocId) -> PathBuf {
    store.doc_file(doc)
}

fn quarantine_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("quarantine")).unwrap().count()
}

#[test]
fn save_append_replace_delete_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = common::open(dir.path()).unwrap();
    let mut a = Doc::new(doc_id(1), 1);
    a.set("x", 1);
    store
        .apply(&[a.save(false, vec![(peer(1), b"s1".to_vec())])])
        .unwrap();
    for i in 2..5 {
        a.set(&format!("k{i}"), i);
        store
            .apply(&[a.save(false, vec![(peer(1), format!("s{i}").into_bytes())])])
            .unwrap();
    }
    let (bytes, states) = store.load(&a.id).unwrap().unwrap();
    let mut am = AutoCommit::load(&bytes).unwrap();
    assert_eq!(heads(&mut am), a.meta().heads.to_vec());
    assert_eq!(get_int(&am, "k4"), Some(4));
    assert_eq!(
        states,
        vec![(peer(1), b"s4".to_vec())],
        "last state per peer wins"
    );

    a.set("y", 9);
    store
        .apply(&[a.save(true, vec![(peer(2), b"t".to_vec())])])
        .unwrap();
    let (bytes, states) = store.load(&a.id).unwrap().unwrap();
    assert_eq!(bytes, a.am.save(), "a Replace leaves exactly the new save");
    assert_eq!(
        states,
        vec![(peer(2), b"t".to_vec())],
        "a Replace starts the file afresh"
    );

    store.apply(&[StoreOp::Delete { doc: a.id.clone() }]).unwrap();
    assert_eq!(store.load(&a.id).unwrap(), None);
    let startup = store.startup();
    assert_eq!(
        startup.index,
        vec![(
            a.id.clone(),
            DocMeta {
                tombstone: true,
                ..DocMeta::default()
            }
        )]
    );
    assert_eq!(store.load(&doc_id(99)).unwrap(), None, "never stored");
}

#[test]
fn reopen_restores_index_and_content_without_reading_documents() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs: Vec<Doc> = (0..100).map(|n| Doc::new(doc_id(n), 1)).collect();
    let mut devices = Doc::new(DocId::devices(), 1);
    devices.set("registry", 1);
    {
        let mut store = common::open(dir.path()).unwrap();
        let mut batch: Vec<StoreOp> = docs
            .iter_mut()
            .map(|d| {
                d.set("v", 1);
                d.save(false, vec![])
            })
            .collect();
        batch.push(devices.save(false, vec![]));
        store.apply(&batch).unwrap();
        store.checkpoint().unwrap();
        for d in docs.iter_mut().take(10) {
            d.set("v", 2);
            store.apply(&[d.save(false, vec![])]).unwrap();
        }
        // Dropped without a checkpoint: the last ten saves live only in the log.
    }
    let store = common::open(dir.path()).unwrap();
    let stats = store.stats();
    assert_eq!(stats.doc_files_read, 0, "open must not read document files");
    assert!(!stats.index_rebuilt);
    assert_eq!(stats.wal_ops_replayed, 10);
    let startup = store.startup();
    assert_eq!(store.stats().doc_files_read, 1, "start-up reads _devices only");
    assert_eq!(startup.devices_doc, Some(devices.am.save()));
    let expect: Vec<(DocId, DocMeta)> = {
        let mut rows: Vec<_> = docs.iter_mut().map(|d| (d.id.clone(), d.meta())).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    assert_eq!(startup.index, expect, "_devices is not an index row");
    for d in docs.iter_mut() {
        let am = load_am(&store, &d.id);
        assert_eq!(get_int(&am, "v"), get_int(&d.am, "v"), "{}", d.id);
    }
}

#[test]
fn damaged_files_are_quarantined_and_recovered_by_a_replace() {
    type Damage = fn(&Path, u64);
    let cases: [(&str, Damage); 5] = [
        ("truncated mid-record", |p, _| {
            let len = std::fs::metadata(p).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap()
                .set_len(len - 3)
                .unwrap();
        }),
        ("bit flip", |p, _| {
            let mut bytes = std::fs::read(p).unwrap();
            let i = bytes.len() / 2;
            bytes[i] ^= 0x10;
            std::fs::write(p, bytes).unwrap();
        }),
        ("cut at a record boundary", |p, first_len| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap()
                .set_len(first_len)
                .unwrap();
        }),
        ("missing", |p, _| std::fs::remove_file(p).unwrap()),
        ("zeroed", |p, _| {
            let len = std::fs::metadata(p).unwrap().len();
            std::fs::write(p, vec![0u8; len as usize]).unwrap();
        }),
    ];
    for (name, damage) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut store = common::open(dir.path()).unwrap();
        let mut a = Doc::new(doc_id(1), 1);
        let mut b = Doc::new(doc_id(2), 1);
        a.set("x", 1);
        b.set("x", 1);
        store
            .apply(&[a.save(false, vec![]), b.save(false, vec![])])
            .unwrap();
        let path = file_of(&store, &a.id);
        let first_len = std::fs::metadata(&path).unwrap().len();
        a.set("x", 2);
        store.apply(&[a.save(false, vec![])]).unwrap();
        store.checkpoint().unwrap();

        damage(&path, first_len);
        let err = store.load(&a.id).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { doc, .. } if *doc == a.id),
            "{name}: {err}"
        );
        assert_eq!(err.doc_fault(), Some(&a.id));
        assert!(
            matches!(store.load(&a.id), Err(StoreError::Quarantined(_))),
            "{name}"
        );
        assert_eq!(store.quarantined(), vec![a.id.clone()], "{name}");
        let reports = store.quarantine_reports();
        assert_eq!(reports.len(), 1, "{name}");
        assert_eq!(reports[0].doc.as_ref(), Some(&a.id));
        assert_eq!(reports[0].moved_to.is_some(), name != "missing", "{name}");
        assert_eq!(
            quarantine_files(dir.path()),
            usize::from(name != "missing"),
            "{name}"
        );
        assert!(!path.exists(), "{name}: the damaged file stays in docs/");
        assert!(
            store.startup().index.iter().all(|(d, _)| *d != a.id),
            "{name}: still offered"
        );
        assert_eq!(
            get_int(&load_am(&store, &b.id), "x"),
            Some(1),
            "{name}: neighbour hurt"
        );

        // The quarantine survives a restart (it is logged with the next checkpoint or batch).
        store.checkpoint().unwrap();
        drop(store);
        let mut store = common::open(dir.path()).unwrap();
        assert_eq!(
            store.quarantined(),
            vec![a.id.clone()],
            "{name}: forgotten after reopen"
        );
        assert!(matches!(store.load(&a.id), Err(StoreError::Quarantined(_))));
        // The runtime's DocCorrupt handler quarantining again is harmless.
        store.quarantine(&a.id, "Automerge refused it");
        assert!(store.quarantine_reports().is_empty(), "{name}: a second report");

        // Recovery from a peer arrives as a whole-document Replace.
        let mut recovered = Doc::new(a.id.clone(), 2);
        recovered.am = a.am.fork();
        store.apply(&[recovered.save(true, vec![])]).unwrap();
        assert_eq!(get_int(&load_am(&store, &a.id), "x"), Some(2), "{name}");
        assert!(store.quarantined().is_empty(), "{name}");
    }
}

#[test]
fn torn_log_tail_is_dropped_and_committed_batches_survive() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Doc::new(doc_id(1), 1);
    let wal = dir.path().join("wal");
    let first_end;
    {
        let mut store = common::open(dir.path()).unwrap();
        a.set("x", 1);
        store.apply(&[a.save(false, vec![])]).unwrap();
        first_end = std::fs::metadata(&wal).unwrap().len();
        let mut b = Doc::new(doc_id(2), 1);
        b.set("x", 1);
        store.apply(&[b.save(false, vec![])]).unwrap();
    }
    // The second batch is torn: as if the crash came before its sync returned.
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let store = common::open(dir.path()).unwrap();
    assert_eq!(store.stats().wal_bytes_dropped, len - 5 - first_end);
    assert_eq!(get_int(&load_am(&store, &a.id), "x"), Some(1));
    assert_eq!(
        store.load(&doc_id(2)).unwrap(),
        None,
        "unacknowledged batch must not half-apply"
    );
    drop(store);

    // A bit flip inside the last batch drops that batch too.
    let mut store = common::open(dir.path()).unwrap();
    let mut c = Doc::new(doc_id(3), 1);
    c.set("x", 1);
    let before = std::fs::metadata(&wal).unwrap().len();
    store.apply(&[c.save(false, vec![])]).unwrap();
    drop(store);
    let mut bytes = std::fs::read(&wal).unwrap();
    let i = before as usize + 20;
    bytes[i] ^= 1;
    std::fs::write(&wal, bytes).unwrap();
    let store = common::open(dir.path()).unwrap();
    assert!(store.stats().wal_bytes_dropped > 0);
    assert_eq!(get_int(&load_am(&store, &a.id), "x"), Some(1));
}

#[test]
fn damaged_index_is_rebuilt_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs: Vec<Doc> = (0..20).map(|n| Doc::new(doc_id(n), 1)).collect();
    let mut store = common::open(dir.path()).unwrap();
    let batch: Vec<StoreOp> = docs
        .iter_mut()
        .map(|d| {
            d.set("v", 7);
            d.save(false, vec![(peer(3), b"st".to_vec())])
        })
        .collect();
    store.apply(&batch).unwrap();
    store.apply(&[StoreOp::Delete { doc: doc_id(0) }]).unwrap();
    let before = store.startup().index;
    let victim = file_of(&store, &doc_id(5));
    store.close().unwrap();

    let index = dir.path().join("index");
    let mut bytes = std::fs::read(&index).unwrap();
    bytes[30] ^= 0x40;
    std::fs::write(&index, bytes).unwrap();
    // One document file is damaged too: the rebuild quarantines it.
    let mut bytes = std::fs::read(&victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&victim, bytes).unwrap();

    let store = common::open(dir.path()).unwrap();
    let stats = store.stats();
    assert!(stats.index_rebuilt);
    assert_eq!(stats.doc_files_read, 20, "a rebuild reads each file once");
    let after = store.startup().index;
    let expect: Vec<_> = before.into_iter().filter(|(d, _)| *d != doc_id(5)).collect();
    assert_eq!(after, expect);
    assert_eq!(store.quarantined(), vec![doc_id(5)]);
    assert_eq!(store.quarantine_reports().len(), 1);
    assert_eq!(
        store.load(&doc_id(1)).unwrap().unwrap().1,
        vec![(peer(3), b"st".to_vec())]
    );
    drop(store);
    // The rebuilt index was published: the next open reads no document file.
    let store = common::open(dir.path()).unwrap();
    assert!(!store.stats().index_rebuilt);
    assert_eq!(store.stats().doc_files_read, 0);
    assert_eq!(store.quarantined(), vec![doc_id(5)]);
}

#[test]
fn a_rebuilt_index_does_not_trust_a_file_behind_the_log() {
    // Double fault: the index is damaged and a file lost part of its durable prefix. The file
    // still parses (cut at a record boundary), but the log says later saves were acknowledged.
    let dir = tempfile::tempdir().unwrap();
    let mut a = Doc::new(doc_id(1), 1);
    let path;
    let v0_len;
    {
        let mut store = common::open(dir.path()).unwrap();
        a.set("x", 0);
        store.apply(&[a.save(false, vec![])]).unwrap();
        path = file_of(&store, &a.id);
        v0_len = std::fs::metadata(&path).unwrap().len();
        a.set("x", 1);
        store.apply(&[a.save(false, vec![])]).unwrap();
        store.checkpoint().unwrap();
        a.set("x", 2);
        store.apply(&[a.save(false, vec![])]).unwrap();
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(v0_len)
        .unwrap();
    std::fs::write(dir.path().join("index"), b"garbage").unwrap();
    let store = common::open(dir.path()).unwrap();
    assert!(store.stats().index_rebuilt);
    assert!(
        matches!(store.load(&a.id), Err(StoreError::Corrupt { .. })),
        "an older valid prefix was served for an acknowledged later state"
    );
}

#[test]
fn a_second_open_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path()).unwrap();
    assert!(matches!(common::open(dir.path()), Err(StoreError::Locked(_))));
    drop(store);
    common::open(dir.path()).unwrap();
}

#[test]
fn lost_unsynced_file_writes_are_replayed_from_the_log() {
    // Power loss after acknowledgement but before a checkpoint: document files written since
    // the checkpoint may be old, missing, torn or new; the log is intact (it was synced).
    let dir = tempfile::tempdir().unwrap();
    let snapshot = tempfile::tempdir().unwrap();
    let mut docs: Vec<Doc> = (0..12).map(|n| Doc::new(doc_id(n), 1)).collect();
    {
        let mut store = common::open(dir.path()).unwrap();
        let batch: Vec<StoreOp> = docs
            .iter_mut()
            .map(|d| {
                d.set("v", 1);
                d.save(false, vec![])
            })
            .collect();
        store.apply(&batch).unwrap();
        store.checkpoint().unwrap();
        copy_dir(&dir.path().join("docs"), snapshot.path());
        for round in 2..5 {
            for (i, d) in docs.iter_mut().enumerate() {
                d.set("v", round);
                store.apply(&[d.save(i >= 4 && round == 3, vec![])]).unwrap();
            }
        }
        let mut late = Doc::new(doc_id(50), 1);
        late.set("v", 4);
        store.apply(&[late.save(false, vec![])]).unwrap();
        docs.push(late);
    }
    let mut files = Vec::new();
    walk(&dir.path().join("docs"), &mut files);
    assert_eq!(files.len(), docs.len());
    let mut seen = [0usize; 6];
    for (i, file) in files.iter().enumerate() {
        let rel = file.strip_prefix(dir.path().join("docs")).unwrap();
        let old = std::fs::read(snapshot.path().join(rel)).ok();
        let cur = std::fs::read(file).unwrap();
        match old {
            // Appended to since the checkpoint: the synced prefix is intact, the tail is any
            // prefix of what was appended, or zeros (size updated, data not written).
            Some(old) if cur.starts_with(&old) => match i % 3 {
                0 => {
                    std::fs::write(file, &old).unwrap();
                    seen[0] += 1;
                }
                1 => {
                    let cut = old.len() + (cur.len() - old.len()) / 2;
                    std::fs::write(file, &cur[..cut]).unwrap();
                    seen[1] += 1;
                }
                _ => {
                    let mut zeroed = old.clone();
                    zeroed.resize(cur.len(), 0);
                    std::fs::write(file, zeroed).unwrap();
                    seen[2] += 1;
                }
            },
            // Replaced (renamed over) since the checkpoint: the old file, or the new name with
            // no, some or all of its data.
            Some(old) => match i % 3 {
                0 => {
                    std::fs::write(file, &old).unwrap();
                    seen[3] += 1;
                }
                1 => {
                    std::fs::write(file, &cur[..cur.len() / 2]).unwrap();
                    seen[4] += 1;
                }
                _ => {
                    std::fs::write(file, b"").unwrap();
                    seen[5] += 1;
                }
            },
            // Created since the checkpoint: gone.
            None => std::fs::remove_file(file).unwrap(),
        }
    }
    assert!(
        seen.iter().all(|n| *n > 0),
        "every damage kind exercised: {seen:?}"
    );
    let store = common::open(dir.path()).unwrap();
    assert!(store.stats().wal_ops_replayed > 0);
    for d in &docs {
        assert_eq!(get_int(&load_am(&store, &d.id), "v"), Some(4), "{}", d.id);
    }
    assert!(store.quarantined().is_empty());
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
    out.sort();
}

#[test]
fn sync_state_saves_are_compacted_at_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        compact_after_appends: 4,
        ..StoreOptions::default()
    };
    let mut store = common::open_with(dir.path(), options).unwrap();
    let mut a = Doc::new(doc_id(1), 1);
    a.set("x", 1);
    store.apply(&[a.save(false, vec![])]).unwrap();
    for i in 0..10u8 {
        let meta = a.meta();
        let state = vec![i; 100];
        let op = StoreOp::Save {
            doc: a.id.clone(),
            write: None,
            meta,
            sync_states: vec![(peer(i % 2), state)],
        };
        store.apply(&[op]).unwrap();
    }
    let path = file_of(&store, &a.id);
    let long = std::fs::metadata(&path).unwrap().len();
    let before = store.load(&a.id).unwrap();
    store.checkpoint().unwrap();
    assert_eq!(store.stats().compactions, 1);
    assert!(std::fs::metadata(&path).unwrap().len() < long / 3);
    assert_eq!(store.load(&a.id).unwrap(), before);
    drop(store);
    let store = common::open_with(dir.path(), options).unwrap();
    assert_eq!(store.load(&a.id).unwrap(), before);
    let states = before.unwrap().1;
    let mut want = vec![(peer(0), vec![8; 100]), (peer(1), vec![9; 100])];
    want.sort();
    assert_eq!(states, want, "the last state per peer survives compaction");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn the_store_can_be_shared_across_threads() {
    // The runtime keeps it behind a lock and loads from the blocking pool.
    fn send_sync<T: Send + Sync>() {}
    send_sync::<DocStore>();
}
