//! Benchmark 4: edit propagation on a warm connection, from `put` on device A to the change
//! event on device B — idle, and while a blob transfers between the same two devices.

use std::time::{Duration, Instant};

use humansync::{Event, Origin};
use tokio::sync::mpsc;

use crate::Size;
use crate::devices::{self, Pair};
use crate::report::{Report, percentile};
use crate::world::World;

/// Runs benchmark 4.
pub async fn run(world: &mut World, size: &Size, report: &mut Report) {
    for run in 0..size.runs {
        let pair = Pair::new(world).await;
        let idle = edits(&pair, size.edits, "bench/live").await;
        record(report, "idle", &idle, size.edits);

        // Under load: A references a blob, B fetches it while the edits run.
        let source = pair.dirs.0.path().join("load.bin");
        devices::write_blob(&source, 0xB10B + run as u64, size.blob_bytes);
        let hash = pair.a.store_blob(&source).await.expect("store blob");
        std::fs::remove_file(&source).expect("remove source");
        let mut b_events = pair.b.events();
        let arrived = tokio::spawn(async move {
            loop {
                match b_events.recv().await {
                    Ok(Event::BlobArrived(h)) if h == hash => return Instant::now(),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("events ended: {e}"),
                }
            }
        });
        pair.a
            .open_doc("bench/blob")
            .await
            .expect("doc")
            .put_blob("file", hash)
            .await
            .expect("put blob");
        let loaded = edits(&pair, size.edits, "bench/live-under-load").await;
        let done = tokio::time::timeout(Duration::from_secs(600), arrived)
            .await
            .expect("the blob arrives")
            .expect("join");
        let during: Vec<f64> = loaded
            .iter()
            .filter(|(start, _)| *start < done)
            .map(|(_, ms)| *ms)
            .collect();
        eprintln!(
            "bench 4 run {run}: idle p50 {:.2} ms p99 {:.2} ms; under blob load ({} of {} edits during the transfer) p50 {:.2} ms p99 {:.2} ms",
            percentile(&ms_of(&idle), 50.0),
            percentile(&ms_of(&idle), 99.0),
            during.len(),
            loaded.len(),
            percentile(&during, 50.0),
            percentile(&during, 99.0)
        );
        report.add(
            "4",
            "edits during the blob transfer",
            "edits",
            "",
            during.len() as f64,
        );
        if !during.is_empty() {
            report.add("4", "under blob load: p50", "ms", "", percentile(&during, 50.0));
            report.add("4", "under blob load: p99", "ms", "", percentile(&during, 99.0));
        }
        pair.stop().await;
    }
}

fn ms_of(samples: &[(Instant, f64)]) -> Vec<f64> {
    samples.iter().map(|(_, ms)| *ms).collect()
}

fn record(report: &mut Report, label: &str, samples: &[(Instant, f64)], edits: usize) {
    assert_eq!(samples.len(), edits, "every edit reached B");
    let ms = ms_of(samples);
    report.add(
        "4",
        &format!("{label}: p50"),
        "ms",
        "≤ 2 ms",
        percentile(&ms, 50.0),
    );
    report.add(
        "4",
        &format!("{label}: p99"),
        "ms",
        "≤ 10 ms",
        percentile(&ms, 99.0),
    );
}

/// Makes `n` sequential edits on A; for each, the time from calling `put` to B's change event.
async fn edits(pair: &Pair, n: usize, doc_id: &str) -> Vec<(Instant, f64)> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut events = pair.b.events();
    let (wanted, from) = (doc_id.to_owned(), pair.a.id());
    let listener = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::DocChanged { doc, origin })
                    if doc.as_str() == wanted && origin == Origin::Remote(from) =>
                {
                    if tx.send(Instant::now()).is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });
    let doc = pair.a.open_doc(doc_id).await.expect("doc");
    // The first edit creates the document on B (a whole-document transfer): not counted.
    doc.put("n", -1i64).await.expect("put");
    let _ = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        doc.put("n", i as i64).await.expect("put");
        let seen = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("B sees the edit within 10 s")
            .expect("listener alive");
        out.push((start, seen.saturating_duration_since(start).as_secs_f64() * 1e3));
    }
    listener.abort();
    out
}
