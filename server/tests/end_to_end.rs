//! End to end on loopback, relays off: a real server and two `humansync` library nodes pair over
//! HTTP (Node::pair), sync a document and a blob through the server, survive a server restart on
//! the same data directory, and a revoked device is cut off and told so (SPEC.md §5, §12.1–12.5,
//! HS-GATE-7).

mod support;

use humansync::protocol::http::SignedAuth;
use humansync::{BlobHash, Node};
use humansync_server::Overrides;
use reqwest::StatusCode;
use support::*;

async fn holds_blob(node: &Node, hash: BlobHash) -> bool {
    node.sync_status().await.expect("status").blobs_missing == 0 && node.get_blob(hash).await.is_ok()
}

async fn devices_status(device: &Node, server: &humansync_server::RunningServer, nonce: u8) -> StatusCode {
    let auth = SignedAuth::sign(device.signing_key(), "GET", "/devices", now_ms(), [nonce; 16]);
    client()
        .get(url(server, "/devices"))
        .header("authorization", auth.to_header())
        .send()
        .await
        .expect("get")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_sync_restart_revoke() {
    let (sdir, adir, bdir, files) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start_server(sdir.path(), Overrides::default()).await;
    let server_id = server.id();
    let (http_addr, iroh_port) = (server.http_addr(), server.node().addrs()[0].port());
    let a = start_device(adir.path(), &server).await;
    let b = start_device(bdir.path(), &server).await;
    // Plain http: the password never crosses the network (HS-PAIR-11).
    a.pair(PASSWORD).await.expect("a pairs");
    b.pair(PASSWORD).await.expect("b pairs");
    eventually(20, "both devices connected to the server", || async {
        connected(&a, server_id).await && connected(&b, server_id).await
    })
    .await;

    // A document and a blob from A reach B through the server.
    let note = a.open_doc("notes/shopping").await.expect("open");
    note.put("title", "Groceries").await.expect("put");
    let photo_path = files.path().join("photo.bin");
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&photo_path, &photo).expect("write");
    let hash = a.store_blob(&photo_path).await.expect("store blob");
    note.put_blob("photo", hash).await.expect("put blob");
    eventually(30, "B has the note", || async {
        title(&b, "notes/shopping").await.as_deref() == Some("Groceries")
    })
    .await;
    eventually(30, "the server holds the note and the blob", || async {
        title(server.node(), "notes/shopping").await.as_deref() == Some("Groceries")
            && holds_blob(server.node(), hash).await
    })
    .await;
    let fetched = b.get_blob(hash).await.expect("B fetches the blob");
    assert_eq!(std::fs::read(fetched).expect("read"), photo);
    let devices_before = server.node().registry().await.expect("registry").record_count();
    assert_eq!(devices_before, 2);

    // Restart on the same data directory and ports: same id, registry, documents, blobs.
    server.shutdown().await.expect("shutdown");
    let mut config = server_config(sdir.path());
    config.http_addr = http_addr;
    config.iroh_port = iroh_port;
    let server = humansync_server::start(config, Overrides::default())
        .await
        .expect("restart");
    assert_eq!(server.id(), server_id);
    let view = server.node().registry().await.expect("registry");
    assert!(view.is_registered(&a.id()) && view.is_registered(&b.id()));
    assert_eq!(view.record_count(), 2);
    assert_eq!(
        title(server.node(), "notes/shopping").await.as_deref(),
        Some("Groceries")
    );
    assert!(holds_blob(server.node(), hash).await, "the blob persisted");
    // Devices reconnect by themselves; an edit from B reaches A.
    eventually(30, "both devices reconnected", || async {
        connected(&a, server_id).await && connected(&b, server_id).await
    })
    .await;
    b.open_doc("notes/shopping")
        .await
        .expect("open")
        .put("title", "Groceries 2")
        .await
        .expect("put");
    eventually(30, "A sees B's edit after the restart", || async {
        title(&a, "notes/shopping").await.as_deref() == Some("Groceries 2")
    })
    .await;
    assert_eq!(devices_status(&b, &server, 1).await, StatusCode::OK);

    // Revoke B through the API: its connections close and it is refused everywhere.
    // A revokes B with the password (an OPAQUE login signed by A's key, HS-HTTP-4).
    let revoked = a.revoke_device(b.id(), PASSWORD, None).await.expect("revoke");
    assert_eq!(revoked.node_id, b.id());
    eventually(10, "the server closed B's session", || async {
        !connected(server.node(), b.id()).await
    })
    .await;
    eventually(10, "B lost its session", || async {
        !connected(&b, server_id).await
    })
    .await;
    eventually(10, "A learned the revocation (pushed _devices)", || async {
        a.registry().await.map(|r| r.is_revoked(&b.id())).unwrap_or(false)
    })
    .await;
    assert_eq!(devices_status(&b, &server, 2).await, StatusCode::FORBIDDEN);
    // A new edit and blob from A reach the server but not B.
    let secret_path = files.path().join("secret.bin");
    std::fs::write(&secret_path, b"after revocation").expect("write");
    let secret = a.store_blob(&secret_path).await.expect("store");
    let note = a.open_doc("notes/shopping").await.expect("open");
    note.put("title", "after revocation").await.expect("put");
    note.put_blob("secret", secret).await.expect("put blob");
    eventually(30, "the server has A's new edit and blob", || async {
        title(server.node(), "notes/shopping").await.as_deref() == Some("after revocation")
            && holds_blob(server.node(), secret).await
    })
    .await;
    assert!(!connected(&b, server_id).await, "B could not reconnect");
    assert_eq!(title(&b, "notes/shopping").await.as_deref(), Some("Groceries 2"));
    assert!(b.get_blob(secret).await.is_err(), "B cannot fetch blobs any more");
    assert!(!connected(server.node(), b.id()).await);

    // HS-GATE-7, HS-GATE-5: every peer refuses B before `_devices` can tell it, so B learns of
    // its revocation from the 403 its own signed GET /devices gets — which carries B's Revoked
    // record — and stops dialling (it dialled the server every 2 s or less for ever before).
    eventually(20, "B learned that it is revoked", || async {
        b.registry().await.map(|r| r.is_revoked(&b.id())).unwrap_or(false)
    })
    .await;
    let dials = b.stats().await.expect("stats").totals.dials_started;
    // More than twice the longest backoff towards the server (2 s).
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(
        b.stats().await.expect("stats").totals.dials_started - dials,
        0,
        "dial attempts after B learned that it is revoked"
    );

    for node in [a, b] {
        node.shutdown().await.expect("shutdown");
    }
    server.shutdown().await.expect("shutdown");
}
