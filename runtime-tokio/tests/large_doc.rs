//! HS-SYNC-9 over real iroh on loopback: a document whose saved form exceeds `MAX_DOC_BYTES`
//! cannot be sent whole, and reaches the peer as bounded DocSync messages — pushed live, and
//! found missing by a peer that was offline. (`sansio/tests/sim/large_doc.rs` covers the same
//! paths with a lowered whole-document limit, across seeds.)

mod node_support;

use automerge::ScalarValue;
use humansync::Event;
use humansync_protocol::limits::MAX_DOC_BYTES;
use node_support::*;

/// Parts of incompressible bytes; together over `MAX_DOC_BYTES`, each far below it.
const PARTS: usize = 6;
const PART_BYTES: usize = 3 * 1024 * 1024;

fn part(i: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
    (0..PART_BYTES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn parts_held(node: &humansync::Node, doc: &str) -> usize {
    let Ok(handle) = node.open_doc(doc).await else {
        return 0;
    };
    let mut held = 0;
    for i in 0..PARTS {
        if let Ok(Some(bytes)) = handle.get::<Vec<u8>>(&format!("part{i}")).await {
            assert_eq!(bytes, part(i), "part {i} arrived intact");
            held += 1;
        }
    }
    held
}

async fn write_big(node: &humansync::Node, doc: &str) {
    let handle = node.open_doc(doc).await.expect("doc");
    for i in 0..PARTS {
        handle
            .put(&format!("part{i}"), ScalarValue::Bytes(part(i)))
            .await
            .expect("put");
    }
    let saved = handle.read(|am| am.save().len()).await.expect("read");
    assert!(
        saved > MAX_DOC_BYTES,
        "saved form {saved} B is over MAX_DOC_BYTES"
    );
}

// HS-SYNC-9
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_over_max_doc_bytes_reaches_the_peer() {
    let (_da, db, _anchor, a, b) = paired_pair(9).await;
    let mut a_events = a.events();
    eventually(10, "connected", || async {
        a.sync_status().await.map(|s| s.peers.len() == 1).unwrap_or(false)
    })
    .await;

    // Live push of a document that is already over the limit when it is first pushed.
    write_big(&a, "notes/big").await;
    eventually(60, "B holds the pushed document", || async {
        parts_held(&b, "notes/big").await == PARTS
    })
    .await;

    // A peer that was offline finds the document missing (resume or reconciliation) and
    // receives it.
    b.shutdown().await.expect("shutdown b");
    write_big(&a, "notes/big2").await;
    let b = start(db.path()).await;
    introduce(&[&a, &b]).await;
    eventually(60, "B holds the document it lacked", || async {
        parts_held(&b, "notes/big2").await == PARTS
    })
    .await;
    while let Ok(event) = a_events.try_recv() {
        assert!(
            !matches!(event, Event::DocTooLarge { .. }),
            "A reported {event:?}"
        );
    }
    a.shutdown().await.expect("shutdown");
    b.shutdown().await.expect("shutdown");
}
