//! Helpers shared by the transport tests: nodes on 127.0.0.1 with relays, mDNS and the
//! portmapper off, temporary directories, deterministic data.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use humansync::protocol::{CloseCode, DeviceId};
use humansync::transport::{Gate, NetEvent, Transport, TransportConfig};
use tokio::sync::mpsc;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "hs-transport-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The secret key for a test seed.
pub fn key(seed: u8) -> [u8; 32] {
    [seed; 32]
}

/// The device id of a test seed's key.
pub fn id_of(seed: u8) -> DeviceId {
    let public = iroh::SecretKey::from_bytes(&key(seed)).public();
    DeviceId::from_bytes(*public.as_bytes()).expect("iroh keys are valid points")
}

/// A bound transport with its event receiver and blob directory.
pub struct Node {
    pub transport: Arc<Transport>,
    pub events: mpsc::Receiver<NetEvent>,
    pub gate: Gate,
    pub seed: u8,
    pub dir: TempDir,
}

impl Node {
    /// Binds a loopback node for `seed` that admits `admitted`.
    pub async fn start(seed: u8, admitted: &[u8]) -> Node {
        Node::start_in(seed, admitted, TempDir::new("node"), 0).await
    }

    /// Binds a loopback node reusing `dir` (its blob store) and `port` (0 = any).
    pub async fn start_in(seed: u8, admitted: &[u8], dir: TempDir, port: u16) -> Node {
        Node::try_start_keyed(seed, admitted, dir, port, None)
            .await
            .expect("bind")
    }

    /// Binds a loopback node whose blobs are sealed under `blob_key` (HS-REST-6) when given.
    pub async fn try_start_keyed(
        seed: u8,
        admitted: &[u8],
        dir: TempDir,
        port: u16,
        blob_key: Option<humansync::keys::DataKey>,
    ) -> Result<Node, humansync::transport::TransportError> {
        let gate = Gate::new(id_of(seed));
        gate.update(admitted.iter().map(|s| id_of(*s)).collect(), BTreeSet::new());
        let (tx, events) = mpsc::channel(1024);
        let mut config = TransportConfig::local(key(seed), dir.path().join("blobs"));
        config.bind_port = port;
        config.blob_key = blob_key;
        let transport = Transport::bind(config, gate.clone(), tx).await?;
        Ok(Node {
            transport: Arc::new(transport),
            events,
            gate,
            seed,
            dir,
        })
    }

    pub fn id(&self) -> DeviceId {
        self.transport.id()
    }

    /// The next event, failing the test after `within`.
    pub async fn next_event(&mut self, within: Duration) -> NetEvent {
        tokio::time::timeout(within, self.events.recv())
            .await
            .expect("timed out waiting for an event")
            .expect("event channel closed")
    }

    /// Takes the node apart, keeping its directory (for a restart).
    pub async fn stop(self) -> TempDir {
        match Arc::try_unwrap(self.transport) {
            Ok(transport) => transport.shutdown().await,
            Err(_) => panic!("transport still shared at stop"),
        }
        self.dir
    }
}

/// A fast deterministic byte pattern (xorshift64), `len` bytes, differing per `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `len` pattern bytes to `path` in 4 MiB blocks.
pub fn write_pattern_file(path: &Path, seed: u64, len: usize) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create file"));
    let block = 4 << 20;
    let mut written = 0;
    let mut n = 0;
    while written < len {
        let this = block.min(len - written);
        file.write_all(&pattern(seed ^ (n << 32), this)).expect("write");
        written += this;
        n += 1;
    }
    file.flush().expect("flush");
}

/// Waits for the next Closed event of `conn`, ignoring other events, and returns its code.
pub async fn closed_code(node: &mut Node, within: Duration) -> CloseCode {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        match node.next_event(remaining).await {
            NetEvent::Closed { code, .. } => return code,
            _ => continue,
        }
    }
}

/// A bare iroh endpoint with key `seed` on 127.0.0.1, for playing a peer the transport does not control.
pub async fn raw_endpoint(seed: u8) -> iroh::Endpoint {
    use iroh::endpoint::{PortmapperConfig, presets};
    iroh::Endpoint::builder(presets::Minimal)
        .relay_mode(iroh::RelayMode::Disabled)
        .portmapper_config(PortmapperConfig::Disabled)
        .secret_key(iroh::SecretKey::from_bytes(&key(seed)))
        .clear_ip_transports()
        .bind_addr("127.0.0.1:0")
        .expect("addr")
        .bind()
        .await
        .expect("bind raw endpoint")
}

/// The iroh address of a node (id and direct addresses).
pub fn endpoint_addr(node: &Node) -> iroh::EndpointAddr {
    let id = iroh::EndpointId::from_bytes(node.id().as_bytes()).expect("id");
    iroh::EndpointAddr::new(id).with_addrs(node.transport.addrs().into_iter().map(iroh::TransportAddr::Ip))
}
