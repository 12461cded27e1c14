//! `RunningServer::shutdown` always returns: every step is bounded and a step that waited is
//! named in the log (issue 17), even with a client that never finishes its request.

mod support;

use std::time::Duration;

use humansync_server::Overrides;
use support::*;
use tokio::io::AsyncWriteExt;

/// A metrics scraper (or anything else) that opened a connection, sent half a request and went
/// silent does not hold the shutdown: it returns instead of hanging.
#[tokio::test]
async fn shutdown_returns_with_a_client_stalled_mid_request() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = server_config(&dir.path().join("server"));
    config.metrics_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let server = humansync_server::start(config, Overrides::default())
        .await
        .expect("server");
    let metrics = server.metrics_addr().expect("metrics served");
    let mut stalled = Vec::new();
    for addr in [metrics, server.http_addr()] {
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        conn.write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
            .await
            .expect("half a request");
        stalled.push(conn);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A guard against a hang, far above the bounded steps (not a timing target).
    let done = tokio::time::timeout(Duration::from_secs(120), server.shutdown()).await;
    assert!(done.is_ok(), "RunningServer::shutdown hung");
    done.expect("returned").expect("shutdown ok");
    drop(stalled);
}
