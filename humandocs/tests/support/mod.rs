//! Test helpers: real humansync nodes on 127.0.0.1 (relays and mDNS off) and a stand-in registry
//! anchor that signs Device records the way the server does, so nodes pair without a server.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::Path;

use humandocs::App;
use humandocs::cli::NodeArgs;
use humansync::RelayConfig;
pub use humansync_benchkit::{Anchor, eventually};

/// Starts an app on `dir`: loopback, relays and mDNS off, 1 s re-dial interval.
pub async fn start(dir: &Path) -> App {
    let args = NodeArgs {
        bind: Some(std::net::Ipv4Addr::LOCALHOST.into()),
        no_mdns: true,
        relay: RelayConfig::Disabled,
        interval: 1,
        ..NodeArgs::default()
    };
    let node = humansync::init(humandocs::run::node_config(
        dir,
        &args,
        &humandocs::settings::Settings::default(),
    ))
    .await
    .expect("node starts");
    App::new(node, dir)
}

/// Tells each app where the other listens.
pub async fn introduce(a: &App, b: &App) {
    a.node()
        .add_peer_addrs(b.node().id(), b.node().addrs())
        .await
        .expect("addrs");
    b.node()
        .add_peer_addrs(a.node().id(), a.node().addrs())
        .await
        .expect("addrs");
}

/// Two apps on fresh data directories, paired by one test anchor and told where the other listens.
pub struct TwoApps {
    /// The first app.
    pub a: App,
    /// The second app.
    pub b: App,
    /// The first app's data directory.
    pub dir_a: tempfile::TempDir,
    /// The second app's data directory.
    pub dir_b: tempfile::TempDir,
}

/// Starts [`TwoApps`] paired by an anchor made from `seed`.
pub async fn two_paired_apps(seed: u8) -> TwoApps {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut anchor = Anchor::new(seed);
    let a = start(dir_a.path()).await;
    let b = start(dir_b.path()).await;
    anchor.register(a.node().id());
    anchor.register(b.node().id());
    a.node().apply_pairing(anchor.pairing()).await.expect("pair a");
    b.node().apply_pairing(anchor.pairing()).await.expect("pair b");
    introduce(&a, &b).await;
    TwoApps { a, b, dir_a, dir_b }
}
