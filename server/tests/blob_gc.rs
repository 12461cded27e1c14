//! Blob retention on three real nodes (HS-BLOB-4, issue 16 §4): a server and two `humansync`
//! devices on loopback, each with its real iroh-blobs file store. A deleted note's attachments are
//! deleted from every store once the grace period (2 s here, configured) has passed; a blob
//! another live note still references, and a blob a device pinned, stay.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use humansync::{BlobHash, Node};
use humansync_server::{Overrides, RunningServer};
use support::*;

const GRACE: Duration = Duration::from_secs(2);

/// Where the iroh-blobs store keeps a blob of more than 16 KiB (outside its database).
fn data_file(storage: &Path, hash: BlobHash) -> PathBuf {
    storage.join("blobs").join("data").join(format!("{hash}.data"))
}

/// The blob's bytes are in `storage`'s store: its data file in a plain store; in a sealed store
/// (a device encrypted at rest, whose file names do not reveal the hash) the store's own answer.
async fn on_disk(node: &Node, storage: &Path, hash: BlobHash) -> bool {
    if storage.join("blobs-sealed").exists() {
        node.blob_progress(hash).await.is_ok_and(|p| p.complete)
    } else {
        data_file(storage, hash).exists()
    }
}

async fn start(sdir: &Path, grace: Duration) -> RunningServer {
    let mut config = server_config(sdir);
    config.blob_grace = grace;
    humansync_server::start(config, Overrides::default())
        .await
        .expect("server starts")
}

async fn device(dir: &Path, server: &RunningServer, grace: Duration) -> Node {
    let mut config = device_config(dir, server);
    config.blob_grace = grace;
    let node = humansync::init(config).await.expect("device starts");
    node.pair(PASSWORD).await.expect("pairs");
    node
}

fn file(dir: &Path, name: &str, len: usize, seed: u32) -> PathBuf {
    let path = dir.join(name);
    let bytes: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect();
    std::fs::write(&path, bytes).expect("write");
    path
}

/// Whether `node` holds every blob referenced by its documents and `hash` among them.
async fn holds(node: &Node, storage: &Path, hash: BlobHash) -> bool {
    node.sync_status().await.expect("status").blobs_missing == 0 && on_disk(node, storage, hash).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_notes_attachment_leaves_every_store() {
    let (sdir, adir, bdir, files) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start(sdir.path(), GRACE).await;
    let a = device(adir.path(), &server, GRACE).await;
    let b = device(bdir.path(), &server, GRACE).await;
    let nodes: [(&str, &Node, PathBuf); 3] = [
        ("server", server.node(), sdir.path().join("node")),
        ("A", &a, adir.path().to_path_buf()),
        ("B", &b, bdir.path().to_path_buf()),
    ];

    // A 5 MB attachment, a blob two notes share, and a keepsake B will pin; each referenced at
    // once (a stored blob no document references is itself released after the grace period).
    let paths = [
        file(files.path(), "big.bin", 5_000_000, 1),
        file(files.path(), "shared.bin", 100_000, 2),
        file(files.path(), "keepsake.bin", 200_000, 3),
    ];
    let note = a.open_doc("notes/trip").await.expect("open");
    note.put("title", "Trip").await.expect("put");
    let mut hashes = Vec::new();
    for (key, path) in ["video", "map", "ticket"].into_iter().zip(&paths) {
        let hash = a.store_blob(path).await.expect("store");
        note.put_blob(key, hash).await.expect("put");
        hashes.push(hash);
    }
    let (big, shared, keepsake) = (hashes[0], hashes[1], hashes[2]);
    let other = a.open_doc("notes/other").await.expect("open");
    other.put("title", "Other").await.expect("put");
    other.put_blob("map", shared).await.expect("put");
    for (name, node, storage) in &nodes {
        eventually(60, &format!("{name} holds the three blobs"), || async {
            holds(node, storage, big).await
                && holds(node, storage, shared).await
                && holds(node, storage, keepsake).await
        })
        .await;
    }
    b.pin_blob(keepsake).await.expect("pin");
    let mut before = Vec::new();
    for (name, node, _) in &nodes {
        let stats = node.stats().await.expect("stats");
        assert_eq!(stats.blobs.held, 3, "{name}");
        assert!(stats.blobs.held_bytes >= 5_300_000, "{name}: {:?}", stats.blobs);
        assert_eq!(stats.blobs.deleted, 0, "{name}");
        before.push(stats.blob_bytes);
    }

    a.delete_doc("notes/trip").await.expect("delete");
    for (i, (name, node, storage)) in nodes.iter().enumerate() {
        eventually(60, &format!("{name} deleted the 5 MB attachment"), || async {
            let stats = node.stats().await.expect("stats");
            !on_disk(node, storage, big).await && stats.blob_bytes + 5_000_000 <= before[i]
        })
        .await;
        let stats = node.stats().await.expect("stats");
        eprintln!(
            "{name}: blob store {} bytes before the delete, {} after; held {} blobs / {} bytes, deleted {} / {} bytes",
            before[i],
            stats.blob_bytes,
            stats.blobs.held,
            stats.blobs.held_bytes,
            stats.blobs.deleted,
            stats.blobs.deleted_bytes
        );
        assert!(
            stats.blobs.deleted_bytes >= 5_000_000,
            "{name}: {:?}",
            stats.blobs
        );
    }
    // The keepsake goes wherever it is not pinned; the shared blob stays everywhere.
    for (name, node, storage) in &nodes {
        let pinned = *name == "B";
        eventually(
            60,
            &format!("{name}: keepsake released unless pinned"),
            || async { on_disk(node, storage, keepsake).await == pinned },
        )
        .await;
        assert!(
            on_disk(node, storage, shared).await,
            "{name} lost the blob another note references"
        );
        let stats = node.stats().await.expect("stats");
        assert_eq!(
            stats.blobs.held,
            if pinned { 2 } else { 1 },
            "{name}: {:?}",
            stats.blobs
        );
        assert_eq!(stats.blobs.pending_deletion, 0, "{name}: {:?}", stats.blobs);
        let copy = node.get_blob(shared).await.expect("the shared blob is served");
        assert_eq!(std::fs::metadata(copy).expect("copy").len(), 100_000);
    }
    // A collected blob is answered as "don't have": nobody can serve it any more.
    assert!(
        a.get_blob(big).await.is_err(),
        "A fetched a blob every node deleted"
    );

    for node in [a, b] {
        node.shutdown().await.expect("shutdown");
    }
    server.shutdown().await.expect("shutdown");
}

/// A note deleted on A while B attaches the same blob to another note: the blob stays on every
/// node, and no node ever deleted it (HS-BLOB-4: references, not documents, keep a blob).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_reattached_while_its_note_is_deleted_stays() {
    let grace = Duration::from_secs(4);
    let (sdir, adir, bdir, files) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start(sdir.path(), grace).await;
    let a = device(adir.path(), &server, grace).await;
    let b = device(bdir.path(), &server, grace).await;
    let nodes: [(&str, &Node, PathBuf); 3] = [
        ("server", server.node(), sdir.path().join("node")),
        ("A", &a, adir.path().to_path_buf()),
        ("B", &b, bdir.path().to_path_buf()),
    ];
    let photo = a
        .store_blob(&file(files.path(), "photo.bin", 300_000, 7))
        .await
        .expect("store");
    let note = a.open_doc("notes/first").await.expect("open");
    note.put_blob("photo", photo).await.expect("put");
    for (name, node, storage) in &nodes {
        eventually(60, &format!("{name} holds the photo"), || async {
            holds(node, storage, photo).await
        })
        .await;
    }
    // At the same time: A deletes the note, B attaches the photo to a new note.
    let (deleted, attached) = tokio::join!(a.delete_doc("notes/first"), async {
        let second = b.open_doc("notes/second").await.expect("open");
        second.put_blob("photo", photo).await
    });
    deleted.expect("delete");
    attached.expect("attach");
    for (name, node, _) in &nodes {
        eventually(
            60,
            &format!("{name} has the second note and not the first"),
            || async {
                let docs = node.list_docs("notes/").await.expect("list");
                docs.len() == 1 && docs[0].as_str() == "notes/second"
            },
        )
        .await;
    }
    // Well past the grace period: still held everywhere, never released anywhere.
    tokio::time::sleep(grace * 2).await;
    for (name, node, storage) in &nodes {
        assert!(
            holds(node, storage, photo).await,
            "{name} lost the re-attached photo"
        );
        let stats = node.stats().await.expect("stats");
        assert_eq!(stats.blobs.deleted, 0, "{name}: {:?}", stats.blobs);
        assert_eq!(stats.blobs.pending_deletion, 0, "{name}: {:?}", stats.blobs);
    }
    for node in [a, b] {
        node.shutdown().await.expect("shutdown");
    }
    server.shutdown().await.expect("shutdown");
}
