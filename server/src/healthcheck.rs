//! `humansync-server healthcheck`: GET /health on the local server with a minimal HTTP/1.1
//! client (the FROM-scratch image has no curl). Exit status 0 means healthy.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Most bytes read from the answer.
const MAX_ANSWER: u64 = 16 * 1024;

/// Checks the server listening on `http_addr` (an unspecified address means this host).
/// With TLS the API is not plain HTTP: then only the TCP connection is checked.
pub async fn check(http_addr: SocketAddr, tls: bool) -> Result<(), String> {
    let mut target = http_addr;
    if target.ip().is_unspecified() {
        target.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(target)
            .await
            .map_err(|e| format!("connect {target}: {e}"))?;
        if tls {
            return Ok(());
        }
        let request = format!("GET /health HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut answer = Vec::new();
        stream
            .take(MAX_ANSWER)
            .read_to_end(&mut answer)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&answer);
        if text.starts_with("HTTP/1.1 200") && text.contains("\"status\":\"ok\"") {
            Ok(())
        } else {
            Err(format!(
                "unhealthy answer: {}",
                text.lines().next().unwrap_or_default()
            ))
        }
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .map_err(|_| "timed out".to_owned())?
}
