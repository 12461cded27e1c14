//! Measurement (ignored by default; run with `cargo test -p humansync-server --release --test
//! idle_rss -- --ignored --nocapture`): the server binary's idle RSS with 10,000 documents.
//!
//! Fills a data directory with `HUMANSYNC_RSS_DOCS` (default 10,000) documents through an
//! in-process server's cloud peer, stops it, starts the real `humansync-server` binary on that
//! directory, waits until it answers GET /health and has been idle for a few seconds, then
//! prints VmRSS and VmHWM from /proc. The bound asserted is the target (64 MB).

mod support;

use std::time::Duration;

use humansync_server::Overrides;
use support::*;

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("field")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run explicitly"]
async fn idle_rss_with_ten_thousand_documents() {
    let docs: usize = std::env::var("HUMANSYNC_RSS_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path(), Overrides::default()).await;
    let node = server.node().clone();
    let started = std::time::Instant::now();
    // Writes in parallel batches so that the store can group fsyncs.
    let mut next = 0;
    while next < docs {
        let batch: Vec<_> = (next..(next + 64).min(docs))
            .map(|i| {
                let node = node.clone();
                tokio::spawn(async move {
                    let doc = node.open_doc(&format!("notes/n{i:05}")).await.expect("open");
                    doc.put("title", format!("note number {i}")).await.expect("put");
                    doc.put(
                        "body",
                        "some text of a typical small note, a few dozen bytes long",
                    )
                    .await
                    .expect("put");
                })
            })
            .collect();
        for task in batch {
            task.await.expect("task");
        }
        next += 64;
    }
    eprintln!(
        "wrote {docs} documents in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(node.list_docs("notes/").await.expect("list").len(), docs);
    server.shutdown().await.expect("shutdown");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let http_addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_humansync-server"))
        .args(["--data-dir", dir.path().to_str().expect("utf-8")])
        .args([
            "--http-addr",
            &http_addr,
            "--iroh-port",
            "0",
            "--iroh-bind",
            "127.0.0.1",
            "--relay",
            "disabled",
        ])
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("spawn server");
    let health = format!("http://{http_addr}/health");
    eventually(60, "the server binary answers /health", || async {
        client()
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    // Idle: nothing connects; let start-up allocations settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(child.try_wait().expect("wait").is_none(), "server still running");
    let rss = proc_status_kib(child.id(), "VmRSS:");
    let hwm = proc_status_kib(child.id(), "VmHWM:");
    eprintln!(
        "idle server with {docs} documents: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(rss < 64 * 1024, "idle RSS {rss} KiB over the 64 MB target");
}
