//! Discovery through the server (issue 3, SPEC.md §5.4): two paired devices with mDNS off and no
//! addresses given to each other learn where the other is from the signed `GET /devices`, connect
//! directly, and keep syncing with each other after the server is gone.

mod support;

use humansync_server::Overrides;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_find_each_other_through_get_devices() {
    let (sdir, adir, bdir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start_server(sdir.path(), Overrides::default()).await;
    let a = start_device(adir.path(), &server).await;
    let b = start_device(bdir.path(), &server).await;
    a.pair(PASSWORD).await.expect("a pairs");
    b.pair(PASSWORD).await.expect("b pairs");
    // Neither device was told the other's address and mDNS is off: only GET /devices (which
    // lists the addresses the server saw each device at) can introduce them.
    eventually(30, "the devices connect to each other directly", || async {
        connected(&a, b.id()).await && connected(&b, a.id()).await
    })
    .await;

    // With the server gone, an edit still flows device to device.
    server.shutdown().await.expect("server stops");
    let note = a.open_doc("notes/direct").await.expect("open");
    note.put("title", "peer to peer").await.expect("put");
    eventually(20, "the edit reaches b without the server", || async {
        title(&b, "notes/direct").await.as_deref() == Some("peer to peer")
    })
    .await;
    let status = b.sync_status().await.expect("status");
    assert!(
        status.lan_peers.is_empty(),
        "mDNS is off: nothing may come from it"
    );
    a.shutdown().await.expect("a stops");
    b.shutdown().await.expect("b stops");
}
