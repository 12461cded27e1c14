//! The embedded relay (`--serve-relay`, HS-RELAY-1..3) over real iroh endpoints: two devices
//! that cannot reach each other directly (one bound to 127.0.0.1, the other to ::1 only) pair
//! with a server serving its own relay, adopt the relay it announces, and sync through it. A
//! stranger is refused by the relay, and so is a device once it is revoked.

mod support;

use humansync::{DeviceId, Node, RelayConfig};
use humansync_server::config::ServeRelay;
use humansync_server::{Overrides, RunningServer};
use support::*;

async fn start_relay_server(dir: &std::path::Path) -> RunningServer {
    let mut config = server_config(dir);
    config.serve_relay = Some(ServeRelay {
        addr: "127.0.0.1:0".parse().expect("addr"),
        public_url: None,
    });
    humansync_server::start(config, Overrides::default())
        .await
        .expect("server with relay starts")
}

/// A device bound to `ip` only, using only the relay its server announces.
async fn device_on(dir: &std::path::Path, server: &RunningServer, ip: &str) -> Node {
    let mut config = device_config(dir, server);
    config.bind_addr = Some(ip.parse().expect("ip"));
    config.relay = RelayConfig::Server;
    humansync::init(config).await.expect("device starts")
}

/// Whether `node` has an open session with `peer` and whether it is relayed.
async fn session_with(node: &Node, peer: DeviceId) -> Option<bool> {
    let stats = node.stats().await.ok()?;
    stats
        .sessions
        .iter()
        .find(|s| s.peer == peer && s.open)
        .map(|s| s.relayed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_without_a_direct_path_sync_through_the_servers_relay() {
    // HS-RELAY-1, HS-RELAY-3
    let (sdir, adir, bdir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start_relay_server(sdir.path()).await;
    let relay_port = server.relay_addr().expect("relay listening").port();
    let expected = format!("http://127.0.0.1:{relay_port}/");
    eventually(20, "the server's own node homes on its relay", || async {
        home_relay(server.node()).await.as_deref() == Some(expected.as_str())
    })
    .await;

    // The pairing answer announces the relay on the host name the device used.
    let answer = pair(&client(), &url(&server, ""), &key(7), "probe", PASSWORD)
        .await
        .expect("pair");
    assert_eq!(answer.relay_url, Some(format!("http://127.0.0.1:{relay_port}")));

    let a = device_on(adir.path(), &server, "127.0.0.1").await;
    let b = device_on(bdir.path(), &server, "::1").await;
    assert_eq!(
        home_relay(&a).await,
        None,
        "relay = server: no relay before pairing"
    );
    a.pair(PASSWORD).await.expect("a pairs");
    b.pair(PASSWORD).await.expect("b pairs");
    eventually(20, "both devices home on the server's relay", || async {
        home_relay(&a).await.as_deref() == Some(expected.as_str())
            && home_relay(&b).await.as_deref() == Some(expected.as_str())
    })
    .await;
    // b (::1 only) reaches the server (127.0.0.1 only) through the relay alone.
    eventually(30, "b syncs with the server through the relay", || async {
        session_with(&b, server.id()).await == Some(true)
    })
    .await;

    let note = a.open_doc("notes/relayed").await.expect("open");
    note.put("title", "through the relay").await.expect("put");
    eventually(30, "the edit reaches b", || async {
        title(&b, "notes/relayed").await.as_deref() == Some("through the relay")
    })
    .await;
    eventually(30, "a and b hold a relayed session with each other", || async {
        session_with(&a, b.id()).await == Some(true) && session_with(&b, a.id()).await == Some(true)
    })
    .await;

    // A restart keeps the adopted relay (it comes from the stored pairing).
    b.shutdown().await.expect("b stops");
    let b = device_on(bdir.path(), &server, "::1").await;
    eventually(20, "b homes on the relay again after a restart", || async {
        home_relay(&b).await.as_deref() == Some(expected.as_str())
    })
    .await;
    note.put("title", "after the restart").await.expect("put");
    eventually(30, "an edit reaches the restarted b", || async {
        title(&b, "notes/relayed").await.as_deref() == Some("after the restart")
    })
    .await;

    a.shutdown().await.expect("a stops");
    b.shutdown().await.expect("b stops");
    server.shutdown().await.expect("server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_refuses_strangers_and_revoked_devices() {
    // HS-RELAY-2
    let (sdir, adir, xdir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start_relay_server(sdir.path()).await;
    let relay_url = format!("http://{}", server.relay_addr().expect("relay"));

    // A node that never paired, pointed at the relay directly.
    let mut config = device_config(xdir.path(), &server);
    config.relay = RelayConfig::Custom(relay_url.clone());
    let stranger = humansync::init(config).await.expect("stranger starts");
    eventually(20, "the relay refuses the stranger", || async {
        server.relay_refused() >= 1
    })
    .await;
    assert_eq!(home_relay(&stranger).await, None);
    stranger.shutdown().await.expect("stranger stops");

    let a = device_on(adir.path(), &server, "127.0.0.1").await;
    a.pair(PASSWORD).await.expect("a pairs");
    eventually(20, "a homes on the relay", || async {
        home_relay(&a).await.is_some()
    })
    .await;
    let refused_before = server.relay_refused();
    revoke(&client(), &url(&server, ""), a.id(), PASSWORD, None)
        .await
        .expect("revoked");
    // Its relay connection is closed, and its reconnection is refused.
    eventually(
        30,
        "the revoked device's relay reconnection is refused",
        || async { server.relay_refused() > refused_before },
    )
    .await;
    eventually(30, "the revoked device has no home relay", || async {
        home_relay(&a).await.is_none()
    })
    .await;
    a.shutdown().await.expect("a stops");
    server.shutdown().await.expect("server stops");
}
