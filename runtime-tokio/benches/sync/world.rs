//! The shared setting: the server peer (a node whose identity is the registry anchor) holding
//! the notes, and the registry it signs.

use std::time::Instant;

use humansync::{DeviceId, Node};

use crate::common;
use crate::fixture::{self, Note};
use humansync_benchkit::Anchor;

/// The server peer and what it holds.
pub struct World {
    pub anchor: Anchor,
    pub server: Node,
    pub notes: Vec<Note>,
    /// Sum of the notes' saved sizes.
    pub saved_bytes: u64,
    _dir: tempfile::TempDir,
}

impl World {
    /// Builds `n` notes, preloads them into the server peer's store and starts it.
    pub async fn new(n: usize) -> World {
        World::new_at(n, humansync_benchkit::node::bind_ip()).await
    }

    /// [`World::new`] with the server peer bound to `ip`.
    pub async fn new_at(n: usize, ip: std::net::IpAddr) -> World {
        let t = Instant::now();
        let notes = fixture::build_notes(n);
        let saved_bytes = fixture::saved_bytes(&notes);
        let dir = common::tempdir();
        let anchor = Anchor::default();
        anchor.install_as_identity(dir.path());
        fixture::preload(dir.path(), &notes);
        let server = humansync_benchkit::node::start_at(dir.path(), ip).await;
        assert_eq!(server.id(), anchor.id(), "the server peer's id is the anchor");
        server
            .apply_pairing(anchor.pairing())
            .await
            .expect("server pairing");
        if std::env::var_os("HS_BENCH_DEBUG").is_some() {
            let s = server.clone();
            let mut events = server.events();
            tokio::spawn(async move {
                while let Ok(e) = events.recv().await {
                    if !matches!(e, humansync::Event::DocChanged { .. }) {
                        eprintln!("server event: {e:?}");
                    }
                }
            });
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    eprintln!("server: {:?} {:?}", s.sync_status().await, s.addrs());
                }
            });
        }
        eprintln!(
            "fixture: {n} notes, {saved_bytes} saved bytes ({} B each on average), built in {:.1} s",
            saved_bytes / n.max(1) as u64,
            t.elapsed().as_secs_f64()
        );
        World {
            anchor,
            server,
            notes,
            saved_bytes,
            _dir: dir,
        }
    }

    /// What POST /pair answers a device: the records and the server peer's addresses.
    pub fn pairing(&self) -> humansync::protocol::http::PairResponse {
        let mut pairing = self.anchor.pairing();
        pairing.server_addrs = self.server.addrs().iter().map(|a| a.to_string()).collect();
        pairing
    }

    /// Registers a device and hands the server the new record (as POST /pair does).
    pub async fn register(&mut self, device: DeviceId) {
        self.anchor.register(device);
        self.server
            .apply_pairing(self.anchor.pairing())
            .await
            .expect("server learns the record");
    }
}
