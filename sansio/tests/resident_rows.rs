//! What a core keeps per stored document once started: its index row, which is also its entry in
//! the document set, nothing per document beyond it. At 100,000 documents these are most of an
//! idle server's memory (issue 22 §2), so they are measured in bytes with a counting allocator.

mod counting_alloc;

use humansync_protocol::{ChangeHash, DeviceId, DocId};
use humansync_sansio::{Core, CoreConfig, DocMeta, Heads, Instant, Startup};

use counting_alloc::{live, serial};

/// Documents in the started store.
const ROWS: usize = 20_000;

/// Heap bytes per document the core may keep: the id (shared with the caller's `Arc`, counted
/// here because the core is its last holder; 32 bytes for these ids) and its row in the one map
/// that is both index and reconciliation set (a `DocId`, a `DocMeta` with its one head inline and
/// the cached item fingerprint, 96), in `BTreeMap` nodes that hold up to 11 entries each: 132
/// bytes as measured here. Before, the core kept 296: inserting the ascending ids one by one left
/// the nodes about half full, and each row's head was an allocation of its own; then 166, with the
/// set a second map beside the index (its own key, digest and fingerprint per document).
const MAX_BYTES_PER_ROW: usize = 145;

fn row(i: usize) -> (DocId, DocMeta) {
    let doc = DocId::new(format!("notes/{i:06}")).expect("valid id");
    let mut head = [0u8; 32];
    head[..8].copy_from_slice(&(i as u64).to_le_bytes());
    let meta = DocMeta {
        heads: Heads::from_slice(&[ChangeHash(head)]),
        blobs: Box::default(),
        tombstone: false,
    };
    (doc, meta)
}

#[test]
fn a_started_core_keeps_each_row_in_packed_maps() {
    let _serial = serial();
    let me = DeviceId::from(&ed25519_dalek::SigningKey::from_bytes(&[2; 32]));
    let config = CoreConfig::new(me, vec![2; 16], None);
    let before = live();
    // The store hands its rows over in id order, as `DocStore::startup` does.
    let startup = Startup {
        index: (0..ROWS).map(row).collect(),
        ..Startup::default()
    };
    let core = Core::new(Instant(0), config, startup).expect("core");
    let kept = live().saturating_sub(before);
    let per_row = kept / ROWS;
    eprintln!("the core keeps {per_row} bytes per document ({kept} bytes for {ROWS})");
    assert_eq!(core.status().docs, ROWS, "every row is a live document");
    assert!(
        per_row <= MAX_BYTES_PER_ROW,
        "the core keeps {per_row} bytes per document ({kept} bytes for {ROWS})"
    );
    drop(core);
}
