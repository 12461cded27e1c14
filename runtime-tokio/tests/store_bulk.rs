//! 10,000 documents arriving at once cost O(1) syncs, not one per document (HS-SYNC-8).
//! Run with `--nocapture` to see the wall times (printed, never asserted). On this machine's
//! ext4 (mounted with `discard`) deleting the 10,000 files afterwards takes most of the test's time.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

#[path = "store_support/mod.rs"]
mod common;

use std::io::Write;
use std::time::Instant;

use common::{Doc, doc_id};
use humansync::store::StoreOp;

const DOCS: usize = 10_000;

#[test]
fn ten_thousand_documents_cost_a_constant_number_of_syncs() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut docs: Vec<Doc> = (0..DOCS).map(|n| Doc::new(doc_id(n), 1)).collect();
    let batch: Vec<StoreOp> = docs
        .iter_mut()
        .enumerate()
        .map(|(i, d)| {
            d.set("n", i as i64);
            d.save(false, vec![])
        })
        .collect();
    let bytes: usize = batch
        .iter()
        .map(|op| match op {
            StoreOp::Save { write: Some(w), .. } => match w {
                humansync_sansio::DocWrite::Replace(b) | humansync_sansio::DocWrite::Append(b) => b.len(),
            },
            _ => 0,
        })
        .sum();

    let mut store = common::open(dir.path()).unwrap();
    let base = store.stats();
    let t = Instant::now();
    store.apply(&batch).unwrap();
    let apply_time = t.elapsed();
    let after_apply = store.stats();
    assert_eq!(after_apply.fsyncs - base.fsyncs, 1, "one batch, one sync");
    assert_eq!(after_apply.batches - base.batches, 1);

    let t = Instant::now();
    store.checkpoint().unwrap();
    let checkpoint_time = t.elapsed();
    let after_checkpoint = store.stats();
    let checkpoint_syncs = after_checkpoint.fsyncs - after_apply.fsyncs;
    assert!(checkpoint_syncs <= 4, "checkpoint used {checkpoint_syncs} syncs");

    // A second wave: every document gets an appended change, again in one batch.
    let batch: Vec<StoreOp> = docs
        .iter_mut()
        .map(|d| {
            d.set("m", 1);
            d.save(false, vec![])
        })
        .collect();
    let t = Instant::now();
    store.apply(&batch).unwrap();
    let append_time = t.elapsed();
    assert_eq!(store.stats().fsyncs - after_checkpoint.fsyncs, 1);
    store.close().unwrap();

    let t = Instant::now();
    let store = common::open(dir.path()).unwrap();
    let startup = store.startup();
    let open_time = t.elapsed();
    assert_eq!(startup.index.len(), DOCS);
    assert_eq!(
        store.stats().doc_files_read,
        0,
        "open + startup read no document file"
    );
    let (bytes0, _) = store.load(&doc_id(0)).unwrap().unwrap();
    assert!(automerge::AutoCommit::load(&bytes0).is_ok());

    let mut out = std::io::stdout().lock();
    writeln!(out, "store_bulk: {DOCS} new documents ({bytes} Automerge bytes) in one batch: apply {apply_time:?} with {} sync; checkpoint {checkpoint_time:?} with {checkpoint_syncs} syncs", after_apply.fsyncs - base.fsyncs).unwrap();
    writeln!(
        out,
        "store_bulk: {DOCS} appends in one batch: apply {append_time:?} with 1 sync"
    )
    .unwrap();
    writeln!(
        out,
        "store_bulk: reopen + startup of {DOCS} documents: {open_time:?}, 0 document files read"
    )
    .unwrap();
}

/// For comparison only: the naive durable replace (write, fsync, rename, fsync dir) per document.
#[test]
fn naive_per_document_durable_replace_baseline() {
    const N: usize = 200;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let t = Instant::now();
    for i in 0..N {
        let tmp = dir.path().join(format!("{i}.tmp"));
        let mut f = std::fs::File::create(&tmp).unwrap();
        f.write_all(&[7u8; 300]).unwrap();
        f.sync_data().unwrap();
        std::fs::rename(&tmp, dir.path().join(format!("{i}.doc"))).unwrap();
        std::fs::File::open(dir.path()).unwrap().sync_all().unwrap();
    }
    let per = t.elapsed() / N as u32;
    println!(
        "store_bulk: naive durable replace: {per:?} per document, ≈ {:?} for {DOCS}",
        per * DOCS as u32
    );
}
