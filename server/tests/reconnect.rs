//! A device that restarts reaches its server with its first dial: the server's addresses from
//! pairing are known before the core asks for that dial (issue 17, acceptance step 20: each app
//! start cost a failed dial and its 5 s timeout).

mod support;

use humansync_server::Overrides;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_device_reaches_the_server_with_one_dial() {
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(&dir.path().join("server"), Overrides::default()).await;
    let device_dir = dir.path().join("device");
    let device = start_device(&device_dir, &server).await;
    device.pair(PASSWORD).await.expect("pair");
    humansync_benchkit::eventually(10, "connected", || async {
        connected(&device, server.id()).await
    })
    .await;
    device.shutdown().await.expect("shutdown");

    let device = start_device(&device_dir, &server).await;
    humansync_benchkit::eventually(10, "connected again", || async {
        device
            .sync_status()
            .await
            .map(|s| s.peers.iter().any(|p| p.peer == server.id()))
            .unwrap_or(false)
    })
    .await;
    let dials = device.stats().await.expect("stats").totals.dials_started;
    assert_eq!(dials, 1, "dial attempts before the session with the server");
    device.shutdown().await.expect("shutdown");
    server.shutdown().await.expect("server shutdown");
}
