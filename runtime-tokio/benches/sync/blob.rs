//! Benchmark 5: a blob from device A to device B through HumanSync (A references it in a
//! document, B fetches it by itself) against a raw iroh QUIC stream between two bare endpoints
//! in the same process, same run; and the bytes sent again when a transfer is cut at 50%.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use humansync::protocol::CloseCode;
use humansync::transport::{Gate, Transport, TransportConfig};
use humansync::{DeviceId, Event};

use crate::Size;
use crate::baseline;
use crate::common;
use crate::devices::{self, Pair};
use crate::report::Report;
use crate::world::World;

/// The raw stream's ALPN.
const RAW_ALPN: &[u8] = b"hs-bench/raw/0";

/// Runs benchmark 5.
pub async fn run(world: &mut World, size: &Size, report: &mut Report) {
    let len = size.blob_bytes;
    for run in 0..size.runs {
        let raw = raw_stream(len).await;
        let hs = through_nodes(world, len, 0x5EED + run as u64).await;
        let resent = cut_and_resume(len, 0xC07 + run as u64).await;
        let mbs = |secs: f64| len as f64 / secs / 1e6;
        eprintln!(
            "bench 5 run {run}: humansync {:.0} MB/s, raw iroh stream {:.0} MB/s ({:.0}%), {resent} B re-sent after a cut at 50%",
            mbs(hs),
            mbs(raw),
            100.0 * raw / hs
        );
        report.add("5", "blob through HumanSync", "MB/s", "", mbs(hs));
        report.add("5", "raw iroh QUIC stream (same run)", "MB/s", "", mbs(raw));
        report.add("5", "HumanSync / raw stream", "%", "≥ 60%", 100.0 * raw / hs);
        report.add(
            "5",
            "bytes re-sent after a cut at 50%",
            "% of blob",
            "≤ 1%",
            100.0 * resent as f64 / len as f64,
        );
        if size.quick {
            assert!(resent <= len / 100, "{resent} B re-sent of {len}");
        }
    }
}

/// Seconds from A referencing a stored blob to B holding it (fetched by B's own want-list).
async fn through_nodes(world: &mut World, len: u64, seed: u64) -> f64 {
    let pair = Pair::new(world).await;
    let source = pair.dirs.0.path().join("blob.bin");
    devices::write_blob(&source, seed, len);
    let hash = pair.a.store_blob(&source).await.expect("store blob");
    std::fs::remove_file(&source).expect("remove source");
    let mut events = pair.b.events();
    let start = Instant::now();
    pair.a
        .open_doc("bench/blob")
        .await
        .expect("doc")
        .put_blob("file", hash)
        .await
        .expect("put blob");
    let mut doc_at = None;
    let arrived = tokio::time::timeout(Duration::from_secs(600), async {
        loop {
            match events.recv().await {
                Ok(Event::BlobArrived(h)) if h == hash => return,
                Ok(Event::DocChanged { doc, .. }) if doc.as_str() == "bench/blob" => {
                    doc_at.get_or_insert_with(|| start.elapsed().as_secs_f64());
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await;
    let secs = start.elapsed().as_secs_f64();
    arrived.expect("the blob arrives");
    // Where the time went: the reference reaching B (document sync), then the fetch itself.
    eprintln!(
        "bench 5: the reference reached B after {:.1} ms; BlobArrived after {:.1} ms",
        doc_at.unwrap_or(f64::NAN) * 1e3,
        secs * 1e3
    );
    let status = pair.b.sync_status().await.expect("status");
    assert_eq!(status.blobs_missing, 0, "B holds the blob");
    pair.stop().await;
    secs
}

/// Seconds to move `len` bytes over one raw iroh stream between two bare endpoints.
async fn raw_stream(len: u64) -> f64 {
    let server = baseline::bind(vec![RAW_ALPN.to_vec()]).await;
    let client = baseline::bind(Vec::new()).await;
    let addr = baseline::peer_addr(server.id(), &baseline::addrs(&server));
    let receiver = tokio::spawn({
        let server = server.clone();
        async move {
            let conn = server.accept().await.expect("incoming").await.expect("conn");
            let mut recv = conn.accept_uni().await.expect("stream");
            let mut buf = vec![0u8; 1 << 20];
            let mut got = 0u64;
            while let Some(n) = recv.read(&mut buf).await.expect("read") {
                got += n as u64;
            }
            let at = Instant::now();
            conn.close(0u32.into(), b"done");
            (got, at)
        }
    });
    let start = Instant::now();
    let conn = client.connect(addr, RAW_ALPN).await.expect("connect");
    let mut send = conn.open_uni().await.expect("stream");
    let chunk = vec![0x5Au8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        send.write_all(&chunk[..n]).await.expect("write");
        left -= n as u64;
    }
    send.finish().expect("finish");
    let (got, at) = receiver.await.expect("receiver");
    assert_eq!(got, len, "every byte arrived");
    let secs = at.duration_since(start).as_secs_f64();
    conn.closed().await;
    client.close().await;
    server.close().await;
    secs
}

/// A transport for a fixed key that admits `peer`.
async fn transport(seed: u8, peer: DeviceId, dir: &std::path::Path) -> (Arc<Transport>, DeviceId) {
    let key = [seed; 32];
    let me = DeviceId::from(&SigningKey::from_bytes(&key));
    let gate = Gate::new(me);
    gate.update([peer].into(), BTreeSet::new());
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    // No sessions run here; keep the receiver drained so nothing ever blocks.
    tokio::spawn(async move {
        let mut rx = rx;
        while rx.recv().await.is_some() {}
    });
    let mut config = TransportConfig::local(key, dir.join(format!("blobs-{seed}")));
    // Sealed blobs (HS-REST-6) unless HUMANSYNC_BENCH_ENCRYPTION=off, as the benchmark nodes.
    if !matches!(humansync_benchkit::node::data_key(), humansync::KeySource::Off) {
        config.blob_key = Some(humansync::DataKey::from_bytes([seed ^ 0x5A; 32]));
    }
    let t = Transport::bind(config, gate, tx).await.expect("bind");
    (Arc::new(t), me)
}

/// Cuts a blob transfer at 50% (the provider closes every connection with the fetcher), fetches
/// again, and returns the payload bytes transferred beyond the blob's size.
async fn cut_and_resume(len: u64, seed: u64) -> u64 {
    let dir = common::tempdir();
    let id = |s: u8| DeviceId::from(&SigningKey::from_bytes(&[s; 32]));
    let (a, a_id) = transport(0xA1, id(0xB2), dir.path()).await;
    let (b, b_id) = transport(0xB2, id(0xA1), dir.path()).await;
    let source = dir.path().join("cut.bin");
    devices::write_blob(&source, seed, len);
    let hash = a.add_blob(&source).await.expect("add");
    std::fs::remove_file(&source).expect("remove source");
    b.add_peer_addrs(a_id, a.addrs());
    let progress = Arc::new(AtomicU64::new(0));
    let (half_tx, half_rx) = tokio::sync::oneshot::channel();
    let fetch = {
        let (b, progress) = (b.clone(), progress.clone());
        let mut half_tx = Some(half_tx);
        tokio::spawn(async move {
            b.fetch_blob_with_progress(hash, a_id, move |n| {
                progress.store(n, Ordering::Relaxed);
                if n >= len / 2
                    && let Some(tx) = half_tx.take()
                {
                    let _ = tx.send(());
                }
            })
            .await
        })
    };
    half_rx.await.expect("the transfer reaches 50%");
    assert!(
        a.disconnect_peer(b_id, CloseCode::NORMAL) >= 1,
        "the transfer's connection is cut"
    );
    let first = fetch.await.expect("join");
    let before_cut = progress.load(Ordering::Relaxed);
    assert!(
        first.is_err() && before_cut < len,
        "the cut interrupts the transfer"
    );
    let second = b.fetch_blob(hash, a_id).await.expect("resume");
    assert!(b.has_blob(hash).await, "the blob is whole after resuming");
    let resent = (before_cut + second.payload_bytes).saturating_sub(len);
    eprintln!(
        "cut at {before_cut} of {len} B; the resumed fetch moved {} B",
        second.payload_bytes
    );
    drop(a);
    drop(b);
    resent
}
