//! The baseline of benchmarks 1 and 10: plain per-document Automerge sync, what automerge-repo
//! and samod do, over the same kind of iroh connection (presets::Minimal, one bidirectional
//! stream; loopback, or an emulated link's namespace address in benchmark 10). Every document
//! runs its own sync protocol; all documents are pipelined at once (no per-document round trip
//! waits for another). Framing: document index (u32), length (u32), the Automerge sync message.
//!
//! Generous to the baseline: the server side holds every document parsed in memory before the
//! clock starts (a real server would load them from disk), and the receiver writes all documents
//! in one batch with a single syncfs at the end (automerge-repo writes per document).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Instant;

use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, ReadDoc};
use iroh::endpoint::{PortmapperConfig, RecvStream, SendStream, presets};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode, TransportAddr};
use tokio::sync::mpsc;

use crate::child::{ChildProc, FromChild, SyncReport, ToChild};
use crate::common::{self, Traffic};

/// The baseline's ALPN.
pub const ALPN: &[u8] = b"hs-bench/automerge-sync/0";

/// The index of the empty frame the device opens the stream with.
const HELLO: u32 = u32::MAX;

/// Binds a bare iroh endpoint on the benchmark nodes' address (`node::bind_ip`: 127.0.0.1, or
/// the namespace's address a child of benchmark 10 is given) with relays and the portmapper off,
/// and HumanSync's QUIC transport settings (the same congestion control), so that the two differ
/// only in protocol.
pub async fn bind(alpns: Vec<Vec<u8>>) -> Endpoint {
    bind_at(alpns, humansync_benchkit::node::bind_ip()).await
}

/// [`bind`] on `ip`.
pub async fn bind_at(alpns: Vec<Vec<u8>>, ip: IpAddr) -> Endpoint {
    Endpoint::builder(presets::Minimal)
        .transport_config(humansync::transport::congestion::quic_transport_config())
        .relay_mode(RelayMode::Disabled)
        .portmapper_config(PortmapperConfig::Disabled)
        .clear_ip_transports()
        .bind_addr(SocketAddr::new(ip, 0))
        .expect("bind addr")
        .alpns(alpns)
        .bind()
        .await
        .expect("bind endpoint")
}

/// The endpoint's bound addresses.
pub fn addrs(ep: &Endpoint) -> Vec<SocketAddr> {
    ep.bound_sockets()
}

/// The address of a peer.
pub fn peer_addr(id: EndpointId, addrs: &[SocketAddr]) -> EndpointAddr {
    EndpointAddr::new(id).with_addrs(addrs.iter().copied().map(TransportAddr::Ip))
}

/// Has the device `child` receive all `docs` documents from the baseline server on `ep` (which
/// serves them meanwhile), then exits the child; its report.
pub fn child_sync(mut child: ChildProc, ep: &Endpoint, docs: usize) -> SyncReport {
    child.send(&ToChild::Baseline {
        server: ep.id().to_string(),
        addrs: addrs(ep),
        docs,
    });
    let FromChild::Ready { .. } = child.recv() else {
        panic!("baseline child did not start")
    };
    let FromChild::Synced(report) = child.recv() else {
        panic!("baseline child did not finish")
    };
    child.exit();
    report
}

/// Serves `docs` (already parsed) to the first connection on `ep`, until the peer closes.
pub async fn serve(ep: &Endpoint, docs: &mut [Automerge]) {
    let incoming = ep.accept().await.expect("an incoming connection");
    let conn = incoming.await.expect("connection");
    let (send, recv) = conn.accept_bi().await.expect("stream");
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_frames(send, rx));
    let mut states: Vec<sync::State> = (0..docs.len()).map(|_| sync::State::new()).collect();
    for (i, doc) in docs.iter_mut().enumerate() {
        if let Some(msg) = doc.generate_sync_message(&mut states[i]) {
            let _ = tx.send((i as u32, msg.encode()));
        }
        yield_sometimes(i).await;
    }
    let mut recv = recv;
    while let Ok(Some((i, bytes))) = read_frame(&mut recv).await {
        if i == HELLO {
            continue;
        }
        let (Some(doc), Some(state)) = (docs.get_mut(i as usize), states.get_mut(i as usize)) else {
            panic!("the device sent an unknown document index {i}");
        };
        let msg = sync::Message::decode(&bytes).expect("sync message");
        doc.receive_sync_message(state, msg).expect("apply");
        if let Some(reply) = doc.generate_sync_message(state) {
            let _ = tx.send((i, reply.encode()));
        }
        yield_sometimes(i as usize).await;
    }
    drop(tx);
    let _ = writer.await;
}

/// The device side (in the child process): dials the server, syncs `n` documents, writes them
/// all durably, and reports.
pub async fn receive(dir: &Path, server: String, addrs: Vec<SocketAddr>, n: usize) -> SyncReport {
    let ep = bind(Vec::new()).await;
    let id: EndpointId = server.parse().expect("endpoint id");
    let t = Instant::now();
    let conn = ep.connect(peer_addr(id, &addrs), ALPN).await.expect("connect");
    let (send, mut recv) = conn.open_bi().await.expect("stream");
    let (tx, rx) = mpsc::unbounded_channel();
    // QUIC shows a stream to the acceptor only once data is written on it: open with an empty frame.
    let _ = tx.send((HELLO, Vec::new()));
    let writer = tokio::spawn(write_frames(send, rx));
    let mut docs: Vec<Automerge> = (0..n).map(|_| Automerge::new()).collect();
    let mut states: Vec<sync::State> = (0..n).map(|_| sync::State::new()).collect();
    let mut done = vec![false; n];
    let mut complete = 0usize;
    let (mut received, mut frames, mut turns) = (0u64, 0u64, 0u64);
    while complete < n {
        let (i, bytes) = match read_frame(&mut recv).await {
            Ok(Some(frame)) => frame,
            Ok(None) => panic!("the server closed after {complete} of {n} documents"),
            Err(e) => panic!(
                "after {complete} of {n} documents, {:.1} s after the dial: {e}",
                t.elapsed().as_secs_f64()
            ),
        };
        received += 8 + bytes.len() as u64;
        frames += 1;
        let i = i as usize;
        assert!(i < n, "the server sent an unknown document index {i}");
        let msg = sync::Message::decode(&bytes).expect("sync message");
        docs[i].receive_sync_message(&mut states[i], msg).expect("apply");
        if let Some(reply) = docs[i].generate_sync_message(&mut states[i]) {
            let _ = tx.send((i as u32, reply.encode()));
            frames += 1;
            turns += 1;
        }
        // A document is complete once we hold every head the server announced.
        let theirs = states[i].their_heads.clone().unwrap_or_default();
        if !done[i] && !theirs.is_empty() && theirs.iter().all(|h| docs[i].get_change_by_hash(h).is_some()) {
            done[i] = true;
            complete += 1;
        }
        yield_sometimes(frames as usize).await;
    }
    // Durable: one file per document, one syncfs for all of them.
    std::fs::create_dir_all(dir.join("docs")).expect("docs dir");
    for (i, doc) in docs.iter_mut().enumerate() {
        let mut f = std::fs::File::create(dir.join("docs").join(i.to_string())).expect("create");
        f.write_all(&doc.save()).expect("write");
    }
    let f = std::fs::File::open(dir.join("docs")).expect("open dir");
    rustix::fs::syncfs(&f).expect("syncfs");
    let ms = common::ms_since(t);
    drop(tx);
    let sent = writer.await.expect("writer");
    let stats = conn.stats();
    conn.close(0u32.into(), b"done");
    let (peak_kib, rss_kib) = common::memory_kib();
    ep.close().await;
    SyncReport {
        ms,
        since_main_ms: ms,
        traffic: Traffic {
            bytes: received + sent,
            udp_bytes: stats.udp_tx.bytes + stats.udp_rx.bytes,
            frames,
            round_trips: turns.min(2 * n as u64),
        },
        docs_loaded: n as u64,
        docs_parsed: n as u64,
        changes_appended: 0,
        saves_done: 0,
        store_batches: 0,
        peak_kib,
        heap_peak_kib: crate::heap::peak_kib(),
        rss_kib,
        dials: 1,
        sessions_opened: 1,
    }
}

/// Yields to the runtime every 64th step of a loop of Automerge work. Reads of buffered frames
/// complete without yielding, and a task woken from a busy worker waits in that worker's LIFO
/// slot, which no other worker steals: at 100,000 documents the writer and the connection's
/// own tasks starved (the connection timed out with 0 documents sent).
async fn yield_sometimes(step: usize) {
    if step % 64 == 63 {
        tokio::task::yield_now().await;
    }
}

/// Writes queued frames, those queued together in one write of up to 64 KiB; returns the bytes
/// written. One write per small frame put each sync message in a packet of its own, and with
/// 100,000 documents pipelined the device's stream buffer passed QUIC's limit of 1,024 separate
/// spans under loopback loss ("too many gaps in stream buffer", the connection closed).
async fn write_frames(mut send: SendStream, mut rx: mpsc::UnboundedReceiver<(u32, Vec<u8>)>) -> u64 {
    let mut written = 0u64;
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        buf.clear();
        let mut next = Some(first);
        while let Some((i, bytes)) = next.take() {
            buf.extend_from_slice(&i.to_be_bytes());
            buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            buf.extend_from_slice(&bytes);
            if buf.len() < 64 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        if send.write_all(&buf).await.is_err() {
            break;
        }
        written += buf.len() as u64;
    }
    let _ = send.finish();
    written
}

/// Reads one frame; `None` at the end of the stream, an error if the stream broke.
async fn read_frame(recv: &mut RecvStream) -> Result<Option<(u32, Vec<u8>)>, String> {
    let mut head = [0u8; 8];
    match recv.read_exact(&mut head).await {
        Ok(()) => {}
        Err(iroh::endpoint::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(format!("{e:?}")),
    }
    let [a, b, c, d, e, f, g, h] = head;
    let i = u32::from_be_bytes([a, b, c, d]);
    let len = u32::from_be_bytes([e, f, g, h]) as usize;
    // Bounded: the bench's own peer never sends more than a document's history.
    if len > 64 << 20 {
        return Err(format!("a frame of {len} bytes"));
    }
    let mut bytes = vec![0u8; len];
    recv.read_exact(&mut bytes).await.map_err(|e| format!("{e:?}"))?;
    Ok(Some((i, bytes)))
}
