//! A full disk and an unknown durability are survived without reopening the store (issue 20).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

use humansync_protocol::{ChangeHash, DocId};
use humansync_sansio::{DocMeta, DocWrite};

use super::tmpfs::Tmpfs;
use super::wal::PhysOp;
use super::{DocStore, StoreOp, StoreOptions};

fn doc(id: &str) -> DocId {
    DocId::new(id).unwrap()
}

fn save(doc: &DocId, n: u8, bytes: Vec<u8>) -> StoreOp {
    StoreOp::Save {
        doc: doc.clone(),
        write: Some(DocWrite::Replace(bytes.into())),
        meta: DocMeta {
            heads: humansync_sansio::Heads::from_slice(&[ChangeHash([n; 32])]),
            blobs: Box::default(),
            tombstone: false,
        },
        sync_states: Vec::new(),
    }
}

fn content(store: &DocStore, doc: &DocId) -> Option<Vec<u8>> {
    store.load(doc).expect("loads").map(|(bytes, _)| bytes)
}

/// HS-SYNC-8: while the disk is full, a write is refused with a disk-full error and did not
/// happen; a batch the log took while its document file did not fit is acknowledged and loads
/// from the log; no file is quarantined; once space returns the next write brings the files up
/// to the log, without a reopen; a reopen then finds every acknowledged write.
#[test]
fn a_full_disk_is_survived_without_a_reopen() {
    let Some(fs) = Tmpfs::mount("8m", "a_full_disk_is_survived_without_a_reopen") else {
        return;
    };
    let dir = fs.path().join("store");
    let options = StoreOptions {
        checkpoint_wal_bytes: 1 << 20,
        compact_after_appends: 64,
    };
    let mut store = DocStore::open_with(&dir, options).unwrap();
    let (a, b, c) = (doc("notes/a"), doc("notes/b"), doc("notes/c"));
    store.apply(&[save(&a, 1, vec![1; 1000])]).unwrap();
    let big = vec![7u8; 200_000];

    let mut ballast = fs.fill();
    let err = store.apply(&[save(&b, 2, big.clone())]).unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    // (A small batch may still fit in the log's last page: a batch with a large write does not.)
    let refused = [StoreOp::Delete { doc: a.clone() }, save(&b, 2, big.clone())];
    let err = store.apply(&refused).unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    let err = store.checkpoint().unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert!(!store.is_behind(), "a refused write leaves nothing to redo");
    assert_eq!(
        content(&store, &a),
        Some(vec![1; 1000]),
        "the refused delete did not happen"
    );
    assert_eq!(content(&store, &b), None, "the refused save did not happen");

    // Room for the log record but not for the document file: acknowledged, the file behind.
    let mut freed = 0;
    loop {
        ballast.free(16 << 10);
        freed += 1;
        assert!(freed < 64, "the batch never fit in the log");
        match store.apply(&[save(&b, 2, big.clone())]) {
            Ok(()) => break,
            Err(e) => assert!(e.is_disk_full(), "{e}"),
        }
    }
    assert!(store.is_behind(), "the document file cannot have fit");
    assert_eq!(content(&store, &b), Some(big.clone()), "served from the log");
    assert_eq!(content(&store, &a), Some(vec![1; 1000]));
    let err = store.apply(&[save(&c, 3, vec![3; 100])]).unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert_eq!(content(&store, &c), None);

    ballast.remove();
    store.apply(&[save(&c, 3, vec![3; 100])]).unwrap();
    assert!(!store.is_behind());
    assert_eq!(content(&store, &b), Some(big.clone()));
    assert_eq!(content(&store, &c), Some(vec![3; 100]));
    store.apply(&[StoreOp::Delete { doc: a.clone() }]).unwrap();
    assert_eq!(content(&store, &a), None);
    assert!(
        store.quarantine_reports().is_empty(),
        "{:?}",
        store.quarantine_reports()
    );
    store.close().unwrap();

    let store = DocStore::open_with(&dir, options).unwrap();
    assert_eq!(content(&store, &a), None);
    assert_eq!(content(&store, &b), Some(big));
    assert_eq!(content(&store, &c), Some(vec![3; 100]));
    assert!(store.quarantined().is_empty());
}

/// A store whose log sync failed (durability unknown) recovers at the next write by itself:
/// the batch that failed is cut off for good (an error means it did not happen), what was
/// acknowledged stays, and the store takes writes again.
#[test]
fn unknown_durability_recovers_at_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = DocStore::open(dir.path()).unwrap();
    let (a, b) = (doc("notes/a"), doc("notes/b"));
    store.apply(&[save(&a, 1, vec![1; 100])]).unwrap();
    // What a failed log sync leaves: the batch written after the acknowledged end, unanswered.
    let label = store.layout.file_key(&a);
    let (mut bytes, salt) = super::docfile::fresh(None, label.as_bytes(), &a);
    let frame = super::seal::Frame::new(None, label.as_bytes(), salt, 0);
    super::docfile::push_tombstone(&mut bytes, frame);
    store
        .wal
        .write_unacknowledged(&[PhysOp::Fresh {
            doc: a.clone(),
            bytes,
        }])
        .unwrap();
    store.poisoned = Some("sync log: injected failure".into());

    store.apply(&[save(&b, 2, vec![2; 100])]).unwrap();
    assert!(!store.is_behind());
    assert_eq!(content(&store, &a), Some(vec![1; 100]));
    assert_eq!(content(&store, &b), Some(vec![2; 100]));
    drop(store);

    // A crash now: the reopen replays the log, which no longer holds the failed batch.
    let store = DocStore::open(dir.path()).unwrap();
    assert_eq!(
        content(&store, &a),
        Some(vec![1; 100]),
        "the failed delete never replays"
    );
    assert_eq!(content(&store, &b), Some(vec![2; 100]));
}
