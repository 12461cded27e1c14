//! Blob retention across restarts on a real node (HS-BLOB-4): the time a blob has been
//! unreferenced is persisted, so a restart neither resets its grace period nor ends it early;
//! a pinned blob stays.

mod node_support;

use std::time::Duration;

use humansync::store::wall_ms;
use node_support::*;

const HOUR_MS: u64 = 3_600_000;

fn file(dir: &std::path::Path, name: &str, seed: u8) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, vec![seed; 50_000]).expect("write");
    path
}

async fn start_with_grace(dir: &std::path::Path) -> humansync::Node {
    let mut config = config(dir);
    config.blob_grace = Duration::from_millis(HOUR_MS);
    humansync::init(config).await.expect("node starts")
}

fn saved_since(dir: &std::path::Path) -> Vec<(humansync::BlobHash, u64)> {
    open_store(dir).blob_unreferenced_since()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_survives_restarts() {
    let (dir, files) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let t0 = wall_ms();
    let node = start_with_grace(dir.path()).await;
    let loose = node
        .store_blob(&file(files.path(), "loose", 1))
        .await
        .expect("store");
    let kept = node
        .store_blob(&file(files.path(), "kept", 2))
        .await
        .expect("store");
    node.pin_blob(kept).await.expect("pin");
    eventually(10, "the loose blob waits for its grace period", || async {
        let b = node.stats().await.expect("stats").blobs;
        b.held == 2 && b.pending_deletion == 1 && b.pinned == 1 && b.deleted == 0
    })
    .await;
    node.shutdown().await.expect("shutdown");
    let since = saved_since(dir.path());
    assert_eq!(since.len(), 1, "{since:?}");
    assert_eq!(since[0].0, loose);
    assert!(since[0].1 >= t0 && since[0].1 <= wall_ms(), "{since:?}");

    // A restart does not reset the grace period: the saved time stays.
    let node = start_with_grace(dir.path()).await;
    eventually(10, "still waiting after a restart", || async {
        let b = node.stats().await.expect("stats").blobs;
        b.held == 2 && b.pending_deletion == 1 && b.deleted == 0
    })
    .await;
    node.shutdown().await.expect("shutdown");
    assert_eq!(
        saved_since(dir.path()),
        since,
        "the restart reset the grace period"
    );

    // Down for two hours (the saved time moved back): released at start, the pinned blob kept.
    open_store(dir.path())
        .save_blob_unreferenced_since(&[(loose, since[0].1 - 2 * HOUR_MS)])
        .expect("save");
    let node = start_with_grace(dir.path()).await;
    eventually(10, "released at the first quiet moment", || async {
        let b = node.stats().await.expect("stats").blobs;
        b.held == 1 && b.pending_deletion == 0 && b.deleted == 1 && b.pinned == 1
    })
    .await;
    assert_eq!(node.stats().await.expect("stats").blobs.deleted_bytes, 50_000);
    node.shutdown().await.expect("shutdown");
    assert!(saved_since(dir.path()).is_empty());

    // Unpinned: the kept blob's grace period starts.
    let node = start_with_grace(dir.path()).await;
    node.unpin_blob(kept).await.expect("unpin");
    eventually(10, "the unpinned blob waits for its grace period", || async {
        let b = node.stats().await.expect("stats").blobs;
        b.held == 1 && b.pending_deletion == 1 && b.pinned == 0
    })
    .await;
    node.shutdown().await.expect("shutdown");
}
