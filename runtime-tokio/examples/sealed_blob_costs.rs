//! Local costs of the sealed blob store against iroh-blobs' `FsStore`, without the network
//! (BENCHMARKS.md, "Sealed blobs"): a 256 MiB blob piped from an in-memory store into each store
//! as a bao stream (what a fetch does), then exported from each as a verified bao stream (what
//! serving a peer does). `cargo run --release -p humansync --example sealed_blob_costs [dir]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A measurement tool: a failure is a panic.
use std::num::NonZeroU64;
use std::time::Instant;

use bao_tree::ChunkRanges;
use bao_tree::io::BaoContentItem;
use bao_tree::io::mixed::EncodedItem;
use iroh_blobs::api::Store;
use n0_future::StreamExt;

/// Seconds to pipe `hash` from `from` into `to`.
async fn pipe(from: &Store, to: &Store, hash: iroh_blobs::Hash) -> f64 {
    let t = Instant::now();
    let mut stream = std::pin::pin!(from.blobs().export_bao(hash, ChunkRanges::all()).stream());
    let mut handle = None;
    while let Some(item) = stream.next().await {
        let c = match item {
            EncodedItem::Size(s) => {
                handle = Some(
                    to.blobs()
                        .import_bao(hash, NonZeroU64::new(s).unwrap(), 32)
                        .await
                        .unwrap(),
                );
                continue;
            }
            EncodedItem::Parent(p) => BaoContentItem::Parent(p),
            EncodedItem::Leaf(l) => BaoContentItem::Leaf(l),
            EncodedItem::Done => break,
            EncodedItem::Error(e) => panic!("{e}"),
        };
        handle.as_mut().unwrap().tx.send(c).await.unwrap();
    }
    let h = handle.unwrap();
    drop(h.tx);
    h.rx.await.unwrap().unwrap();
    t.elapsed().as_secs_f64()
}

/// Seconds to export `hash` from `from` as a verified bao stream.
async fn drain(from: &Store, hash: iroh_blobs::Hash) -> f64 {
    let t = Instant::now();
    let mut stream = std::pin::pin!(from.blobs().export_bao(hash, ChunkRanges::all()).stream());
    while let Some(item) = stream.next().await {
        if let EncodedItem::Error(e) = item {
            panic!("{e}")
        }
    }
    t.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let len = 256usize << 20;
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u64).wrapping_mul(0x9E3779B97F4A7C15).to_le_bytes()[3])
        .collect();
    let mem = iroh_blobs::store::mem::MemStore::new();
    let hash = mem.blobs().add_slice(&data).temp_tag().await.unwrap().hash();
    let mem: Store = mem.into();
    for round in 0..2 {
        let dir = std::env::args()
            .nth(1)
            .unwrap_or_else(|| std::env::temp_dir().display().to_string());
        let fs_dir = std::path::Path::new(&dir).join(format!("fs{round}"));
        let sealed_dir = std::path::Path::new(&dir).join(format!("sealed{round}"));
        let fs: Store = iroh_blobs::store::fs::FsStore::load(&fs_dir)
            .await
            .unwrap()
            .into();
        let key = humansync::DataKey::from_bytes([1; 32]);
        let sealed = humansync::transport::sealed_blobs::open(&sealed_dir, &key, None)
            .await
            .unwrap();
        let a = pipe(&mem, &fs, hash).await;
        let b = pipe(&mem, &sealed, hash).await;
        let c = drain(&fs, hash).await;
        let d = drain(&sealed, hash).await;
        let mb = len as f64 / 1e6;
        println!(
            "round {round}: import fs {:.0} MB/s sealed {:.0} MB/s; export fs {:.0} MB/s sealed {:.0} MB/s",
            mb / a,
            mb / b,
            mb / c,
            mb / d
        );
        fs.shutdown().await.unwrap();
        sealed.shutdown().await.unwrap();
        std::fs::remove_dir_all(&fs_dir).ok();
        std::fs::remove_dir_all(&sealed_dir).ok();
    }
}
