//! Issue 16 §2 (HS-HTTP-9): slow and idle clients cannot hold the API. Half-sent requests are
//! closed after the header-read timeout, one address holds at most `MAX_CONNECTIONS_PER_IP`
//! connections, and `GET /health` keeps answering from another address meanwhile.

mod support;

use std::time::{Duration, Instant};

use humansync_server::Overrides;
use humansync_server::http::listener::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS_PER_IP};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection from `ip` that sends the start of a request and never finishes it.
async fn half_sent(ip: &str, server: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{ip}:0").parse().expect("addr"))
        .expect("bind");
    let mut stream = socket.connect(server).await.expect("connect");
    let _ = stream
        .write_all(b"POST /pair/start HTTP/1.1\r\nHost: x\r\nContent-Le")
        .await;
    stream
}

/// Whether the server closed `stream` (EOF, reset, or an error answer followed by EOF) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_capped_per_address() {
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path(), Overrides::default()).await;
    let addr = server.http_addr();
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(half_sent("127.0.0.1", addr).await);
    }
    // Over the per-address cap the server closes at once.
    let mut refused = 0;
    for stream in slow.iter_mut() {
        if closed_within(stream, Duration::from_millis(50)).await {
            refused += 1;
        }
    }
    let held = 300 - refused;
    eprintln!("300 half-sent requests from one address: {held} held, {refused} closed at once");
    assert!(held <= MAX_CONNECTIONS_PER_IP, "{held} connections held");
    // Another address is served meanwhile.
    let other = client_from("127.0.0.2");
    let started = Instant::now();
    let health: humansync_protocol::http::HealthResponse = send(other.get(url(&server, "/health")))
        .await
        .expect("health answers under the flood");
    eprintln!(
        "GET /health under the flood: {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(health.node_id, server.id());
    // The held ones are closed once the header-read timeout passes.
    let bound = HEADER_READ_TIMEOUT + Duration::from_secs(5);
    for stream in slow.iter_mut() {
        assert!(
            closed_within(stream, bound).await,
            "a half-sent request outlived the header-read timeout"
        );
    }
    server.shutdown().await.expect("shutdown");
}
