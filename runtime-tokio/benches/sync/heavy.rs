//! Benchmark 9: a heavy document (a long text typed one character per change, issue 22 §1b).
//! Device A holds it stored; a fresh device B syncs it (first sync), opens it, then types
//! one-character edits: each is timed until durable on B (`change` returns) and until A's change
//! event, with the session bytes and the documents A loads per edit.

use std::time::{Duration, Instant};

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use humansync::{Event, Origin};
use humansync_benchkit::heavy;
use tokio::sync::mpsc;

use crate::Size;
use crate::common;
use crate::fixture::{self, Note};
use crate::report::{Report, percentile};
use crate::world::World;

/// Runs benchmark 9.
pub async fn run(world: &mut World, size: &Size, report: &mut Report) {
    let changes = if size.quick { 3_000 } else { heavy::FULL_CHANGES };
    let t = Instant::now();
    let doc = heavy::heavy(changes, 0x1b);
    eprintln!(
        "bench 9 fixture: {} changes, {} characters, {} B saved, built in {:.1} s",
        doc.changes,
        doc.chars,
        doc.saved.len(),
        t.elapsed().as_secs_f64()
    );
    let edits = if size.quick { 50 } else { 1_000 };
    for run in 0..size.runs {
        one_run(world, &doc, edits, run, size.quick, report).await;
    }
}

async fn one_run(
    world: &mut World,
    doc: &heavy::Heavy,
    n: usize,
    run: usize,
    quick: bool,
    report: &mut Report,
) {
    let dirs = (common::tempdir(), common::tempdir());
    fixture::preload(
        dirs.0.path(),
        &[Note {
            id: doc.id.clone(),
            saved: doc.saved.clone(),
            heads: doc.heads.clone(),
        }],
    );
    let a = common::start(dirs.0.path()).await;
    let b = common::start(dirs.1.path()).await;
    world.register(a.id()).await;
    world.register(b.id()).await;
    a.apply_pairing(world.anchor.pairing()).await.expect("pair a");
    b.apply_pairing(world.anchor.pairing()).await.expect("pair b");

    // First sync: B dials A and receives the document whole.
    let t = Instant::now();
    a.add_peer_addrs(b.id(), b.addrs()).await.expect("addrs");
    b.add_peer_addrs(a.id(), a.addrs()).await.expect("addrs");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = b.stats().await.expect("stats");
        let status = b.sync_status().await.expect("status");
        if s.documents >= 1
            && s.io_pending == 0
            && status.peers.iter().any(|p| p.peer == a.id() && p.up_to_date)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the heavy document did not reach B");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let first_ms = common::ms_since(t);
    let t = Instant::now();
    let handle = b.open_doc(doc.id.as_str()).await.expect("open");
    let text = handle
        .read(|am| {
            am.get(automerge::ROOT, heavy::TEXT_KEY)
                .expect("get")
                .expect("text")
                .1
        })
        .await
        .expect("read");
    let open_ms = common::ms_since(t);

    // Listen for B's edits arriving at A.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut events = a.events();
    let from = b.id();
    let listener = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::DocChanged { origin, .. }) if origin == Origin::Remote(from) => {
                    if tx.send(Instant::now()).is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });
    let type_at = |at: usize| {
        let text = text.clone();
        move |tx: &mut automerge::transaction::Transaction<'_>| {
            tx.splice_text(&text, at, 0, "x").map_err(|e| e.to_string())
        }
    };
    // The first edit loads the document on A (it only stored the bytes): not counted.
    let warm = Instant::now();
    handle.change(type_at(0)).await.expect("edit");
    tokio::time::timeout(Duration::from_secs(120), rx.recv())
        .await
        .expect("A sees the first edit")
        .expect("listener");
    let warm_ms = common::ms_since(warm);

    let a_before = a.stats().await.expect("stats");
    let b_before = b.stats().await.expect("stats");
    let (mut local, mut remote) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        // Typing in the middle of the text, moving on one character per edit.
        let at = doc.chars / 2 + i;
        let start = Instant::now();
        handle.change(type_at(at)).await.expect("edit");
        local.push(common::ms_since(start));
        let seen = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("A sees the edit within 60 s")
            .expect("listener alive");
        remote.push(seen.saturating_duration_since(start).as_secs_f64() * 1e3);
    }
    // Let the last answers land before reading the counters.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a_after = a.stats().await.expect("stats");
    let b_after = b.stats().await.expect("stats");
    listener.abort();
    let session = |s: &humansync::NodeStats, peer| {
        common::session_with(s, peer).map_or(0, |s| s.stats.bytes_in + s.stats.bytes_out)
    };
    let bytes = session(&b_after, a.id()) - session(&b_before, a.id());
    let bytes_per_edit = bytes as f64 / n as f64;
    let loaded_a = a_after.docs_loaded - a_before.docs_loaded;
    let loaded_b = b_after.docs_loaded - b_before.docs_loaded;
    eprintln!(
        "bench 9 run {run}: first sync {first_ms:.0} ms, open {open_ms:.0} ms, first edit at A {warm_ms:.0} ms; \
         {n} edits: durable p50 {:.2} p99 {:.2} max {:.2} ms, at A p50 {:.2} p99 {:.2} max {:.2} ms, \
         {bytes_per_edit:.0} B/edit, loads A {loaded_a} B {loaded_b}",
        percentile(&local, 50.0),
        percentile(&local, 99.0),
        percentile(&local, 100.0),
        percentile(&remote, 50.0),
        percentile(&remote, 99.0),
        percentile(&remote, 100.0),
    );
    report.add("9", "heavy doc: first sync to a fresh device", "ms", "", first_ms);
    report.add("9", "heavy doc: open (load) on the device", "ms", "", open_ms);
    report.add(
        "9",
        "edit durable locally: p50",
        "ms",
        "≤ 5 ms",
        percentile(&local, 50.0),
    );
    report.add(
        "9",
        "edit durable locally: p99",
        "ms",
        "",
        percentile(&local, 99.0),
    );
    report.add(
        "9",
        "edit at the peer: p50",
        "ms",
        "≤ 10 ms",
        percentile(&remote, 50.0),
    );
    report.add(
        "9",
        "edit at the peer: p99",
        "ms",
        "≤ 50 ms",
        percentile(&remote, 99.0),
    );
    report.add("9", "session bytes per edit", "B", "≤ 300 B", bytes_per_edit);
    report.add(
        "9",
        "documents loaded by the peer per edit",
        "docs",
        "0",
        loaded_a as f64 / n as f64,
    );
    report.add(
        "9",
        "documents loaded by the editing device per edit",
        "docs",
        "0",
        loaded_b as f64 / n as f64,
    );
    if quick {
        // Counts only, never times.
        assert!(
            bytes_per_edit <= 300.0,
            "{bytes_per_edit} session bytes per one-character edit"
        );
        assert_eq!(loaded_a, 0, "the peer loaded the document again during the edits");
        assert_eq!(
            loaded_b, 0,
            "the editing device loaded the document again during the edits"
        );
    }
    a.shutdown().await.expect("shutdown a");
    b.shutdown().await.expect("shutdown b");
}
