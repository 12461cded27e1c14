//! Two devices in this process, paired with each other directly (benchmarks 4 and 5).

use std::path::Path;
use std::time::Duration;

use humansync::Node;

use crate::common;
use crate::world::World;

/// Two started devices, registered by the anchor and connected to each other.
pub struct Pair {
    pub a: Node,
    pub b: Node,
    pub dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Pair {
    /// Starts two devices and waits until they hold an up-to-date session.
    pub async fn new(world: &mut World) -> Pair {
        let dirs = (common::tempdir(), common::tempdir());
        let a = common::start(dirs.0.path()).await;
        let b = common::start(dirs.1.path()).await;
        world.register(a.id()).await;
        world.register(b.id()).await;
        // No server addresses: these two only talk to each other.
        a.apply_pairing(world.anchor.pairing()).await.expect("pair a");
        b.apply_pairing(world.anchor.pairing()).await.expect("pair b");
        a.add_peer_addrs(b.id(), b.addrs()).await.expect("addrs");
        b.add_peer_addrs(a.id(), a.addrs()).await.expect("addrs");
        for (x, y) in [(&a, &b), (&b, &a)] {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let status = x.sync_status().await.expect("status");
                if status.peers.iter().any(|p| p.peer == y.id() && p.up_to_date) {
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "devices did not connect");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Pair { a, b, dirs }
    }

    /// Shuts both down (their directories go when `self` drops).
    pub async fn stop(self) {
        self.a.shutdown().await.expect("shutdown a");
        self.b.shutdown().await.expect("shutdown b");
    }
}

/// Writes `len` pseudo-random bytes (incompressible, distinct per `seed`) to `path`.
pub fn write_blob(path: &Path, seed: u64, len: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut x = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).expect("write");
        left -= n as u64;
    }
    f.flush().expect("flush");
}
