//! Sealed blobs (issue 21, HS-REST-6) over real iroh endpoints on 127.0.0.1: transfers with the
//! sealed store on both sides and on one side only, a resumed transfer that sends only what is
//! missing, tampered groups fetched again from a peer, and a wrong key refused at start.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Node, TempDir, write_pattern_file};
use humansync::DataKey;
use humansync::protocol::CloseCode;
use humansync::transport::TransportError;

const MIB: u64 = 1 << 20;
/// Bytes of a chunk group on disk: 16 KiB sealed plus nonce and tag.
const SLOT: usize = 16 * 1024 + 28;

fn blob_key(b: u8) -> DataKey {
    DataKey::from_bytes([b; 32])
}

async fn start(seed: u8, admitted: &[u8], key: Option<DataKey>) -> Node {
    Node::try_start_keyed(seed, admitted, TempDir::new("sealed"), 0, key)
        .await
        .expect("bind")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// True if any file under `dir` holds the 64 bytes of `source` at `at`.
fn plaintext_under(dir: &Path, source: &[u8], at: usize) -> bool {
    let needle = &source[at..at + 64];
    files_under(dir).iter().any(|p| {
        std::fs::read(p)
            .unwrap_or_default()
            .windows(64)
            .any(|w| w == needle)
    })
}

/// The one sealed data file under a node's blob store.
fn data_file(node_dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = files_under(&node_dir.join("blobs"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "data"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

async fn round_trip(provider: &Node, fetcher: &Node, seed: u64, len: u64) {
    let source = provider.dir.path().join(format!("source-{seed}.bin"));
    write_pattern_file(&source, seed, len as usize);
    let hash = provider.transport.add_blob(&source).await.expect("add");
    fetcher
        .transport
        .add_peer_addrs(provider.id(), provider.transport.addrs());
    let stats = fetcher
        .transport
        .fetch_blob(hash, provider.id())
        .await
        .expect("fetch");
    assert_eq!(stats.payload_bytes, len);
    assert!(fetcher.transport.has_blob(hash).await);
    let out = fetcher.dir.path().join(format!("out-{seed}.bin"));
    fetcher.transport.export_blob(hash, &out).await.expect("export");
    assert!(std::fs::read(&out).expect("out") == std::fs::read(&source).expect("source"));
    std::fs::remove_file(&out).expect("rm out");
}

/// Sealed on both sides, then sealed on one side only (each way): byte-identical transfers,
/// and no plaintext of the blob under a sealed store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_blobs_transfer_between_sealed_and_plain_nodes() {
    let a = start(31, &[32, 33], Some(blob_key(1))).await; // sealed
    let b = start(32, &[31, 33], Some(blob_key(2))).await; // sealed
    let c = start(33, &[31, 32], None).await; // plain
    let len = 3 * MIB + 17;
    round_trip(&a, &b, 1, len).await; // sealed → sealed
    round_trip(&a, &c, 2, len).await; // sealed → plain
    round_trip(&c, &b, 3, len).await; // plain → sealed
    for (node, seed) in [(&a, 1u64), (&b, 1), (&b, 3)] {
        let source = common::pattern(seed, len as usize);
        assert!(
            !plaintext_under(&node.dir.path().join("blobs"), &source, 1_000_000),
            "plaintext under a sealed store"
        );
    }
    // The plain store shows it: the check can fail.
    assert!(plaintext_under(
        &c.dir.path().join("blobs"),
        &common::pattern(2, len as usize),
        1_000_000
    ));
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

/// HS-BLOB-2 with sealed stores: a 64 MiB transfer cut in the middle (the provider shuts down
/// after about half arrived) resumes after the provider restarts, and the second fetch receives
/// only the bytes that were missing (counted, not timed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_transfer_resumes_with_only_the_missing_ranges() {
    let total = 64 * MIB;
    let a = start(34, &[35], Some(blob_key(3))).await;
    let b = start(35, &[34], Some(blob_key(4))).await;
    let source = TempDir::new("sealed-source");
    let source_file = source.path().join("big.bin");
    write_pattern_file(&source_file, 64, total as usize);
    let hash = a.transport.add_blob(&source_file).await.expect("add");
    b.transport.add_peer_addrs(a.id(), a.transport.addrs());

    let (half_tx, half_rx) = tokio::sync::oneshot::channel();
    let mut half_tx = Some(half_tx);
    let progress = Arc::new(AtomicU64::new(0));
    let first = {
        let (b_t, a_id, progress) = (b.transport.clone(), a.id(), progress.clone());
        tokio::spawn(async move {
            b_t.fetch_blob_with_progress(hash, a_id, move |n| {
                progress.store(n, Ordering::Relaxed);
                if n >= total / 2
                    && let Some(tx) = half_tx.take()
                {
                    let _ = tx.send(());
                }
            })
            .await
        })
    };
    half_rx.await.expect("half arrived");
    let a_dir = a.stop().await;
    let first = first.await.expect("join");
    assert!(
        matches!(first, Err(TransportError::ClosedByPeer(CloseCode::SHUTDOWN))),
        "{first:?}"
    );
    let received_first = progress.load(Ordering::Relaxed);
    assert!(received_first >= total / 2 && received_first < total);
    assert!(!b.transport.has_blob(hash).await);
    // The store may still be writing what was in flight when the fetch failed: wait until the
    // groups held stop changing, then count.
    let mut partial = b.transport.blob_progress(hash).await.expect("progress");
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = b.transport.blob_progress(hash).await.expect("progress");
        if now == partial {
            break;
        }
        partial = now;
    }
    assert!(!partial.complete);
    assert!(
        partial.received + MIB >= received_first,
        "{partial:?} after {received_first} bytes arrived"
    );

    let a = Node::try_start_keyed(34, &[35], a_dir, 0, Some(blob_key(3)))
        .await
        .expect("restart");
    b.transport.add_peer_addrs(a.id(), a.transport.addrs());
    let second = b.transport.fetch_blob(hash, a.id()).await.expect("resume");
    let missing = total - partial.received;
    println!(
        "first {received_first} bytes, kept {} bytes, resume sent {} payload bytes for {missing} missing",
        partial.received, second.payload_bytes
    );
    assert_eq!(
        second.payload_bytes, missing,
        "the resume sent exactly the missing groups"
    );
    let out = b.dir.path().join("out.bin");
    b.transport.export_blob(hash, &out).await.expect("export");
    assert!(std::fs::read(&out).expect("out") == std::fs::read(&source_file).expect("source"));
    a.stop().await;
    b.stop().await;
}

/// A flipped byte, then two swapped groups, in the fetcher's sealed store: the export fails with
/// an error naming the data file, the blob is partial again, and fetching from the peer brings
/// back exactly the dropped groups. A wrong key at start is refused, naming the key check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_groups_are_fetched_again_and_a_wrong_key_is_refused() {
    let a = start(36, &[37], Some(blob_key(5))).await;
    let b = start(37, &[36], Some(blob_key(6))).await;
    let len = MIB;
    let source = a.dir.path().join("source.bin");
    write_pattern_file(&source, 36, len as usize);
    let hash = a.transport.add_blob(&source).await.expect("add");
    b.transport.add_peer_addrs(a.id(), a.transport.addrs());
    b.transport.fetch_blob(hash, a.id()).await.expect("fetch");
    let b_dir = b.stop().await;

    // Flip one byte of group 3.
    let file = data_file(b_dir.path());
    let mut bytes = std::fs::read(&file).expect("read");
    bytes[3 * SLOT + 100] ^= 1;
    std::fs::write(&file, &bytes).expect("write");
    let b = Node::try_start_keyed(37, &[36], b_dir, 0, Some(blob_key(6)))
        .await
        .expect("restart");
    let out = b.dir.path().join("out.bin");
    let err = b.transport.export_blob(hash, &out).await.expect_err("tampered");
    let text = err.to_string();
    assert!(
        text.contains("failed authentication") && text.contains(&file.display().to_string()),
        "{text}"
    );
    assert!(
        !b.transport.has_blob(hash).await,
        "a tampered blob counts as partial"
    );
    b.transport.add_peer_addrs(a.id(), a.transport.addrs());
    let again = b.transport.fetch_blob(hash, a.id()).await.expect("refetch");
    assert_eq!(
        again.payload_bytes,
        16 * 1024,
        "only the dropped group is fetched again"
    );
    b.transport.export_blob(hash, &out).await.expect("export");
    assert!(std::fs::read(&out).expect("out") == std::fs::read(&source).expect("source"));
    let b_dir = b.stop().await;

    // Swap groups 5 and 6.
    let mut bytes = std::fs::read(&file).expect("read");
    let (five, six) = (
        bytes[5 * SLOT..6 * SLOT].to_vec(),
        bytes[6 * SLOT..7 * SLOT].to_vec(),
    );
    bytes[5 * SLOT..6 * SLOT].copy_from_slice(&six);
    bytes[6 * SLOT..7 * SLOT].copy_from_slice(&five);
    std::fs::write(&file, &bytes).expect("write");
    let b = Node::try_start_keyed(37, &[36], b_dir, 0, Some(blob_key(6)))
        .await
        .expect("restart");
    assert!(
        b.transport.export_blob(hash, &out).await.is_err(),
        "served swapped groups"
    );
    b.transport.add_peer_addrs(a.id(), a.transport.addrs());
    let again = b.transport.fetch_blob(hash, a.id()).await.expect("refetch");
    assert!(
        again.payload_bytes > 0 && again.payload_bytes <= 2 * 16 * 1024,
        "{again:?}"
    );
    b.transport.export_blob(hash, &out).await.expect("export");
    assert!(std::fs::read(&out).expect("out") == std::fs::read(&source).expect("source"));
    let b_dir = b.stop().await;

    // Another key: refused before anything is read, naming the key check.
    let err = Node::try_start_keyed(37, &[36], b_dir, 0, Some(blob_key(9)))
        .await
        .err()
        .expect("wrong key refused");
    assert!(err.to_string().contains("keycheck"), "{err}");
    a.stop().await;
}
