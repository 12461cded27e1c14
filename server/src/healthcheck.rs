//! `humansync-server healthcheck`: GET /health on the local server with a minimal HTTP/1.1
//! client (the FROM-scratch image has no curl), over TLS when the server serves TLS. Exit
//! status 0 means healthy.

mod pinned;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most bytes read from the answer.
const MAX_ANSWER: u64 = 16 * 1024;
/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Checks the server listening on `http_addr` (an unspecified address means this host). With
/// `tls_cert` (the server's `--tls-cert`) it speaks HTTPS and accepts only that certificate.
pub async fn check(http_addr: SocketAddr, tls_cert: Option<&Path>) -> Result<(), String> {
    let mut target = http_addr;
    if target.ip().is_unspecified() {
        target.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let tls = tls_cert.map(pinned::client_config).transpose()?;
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(target)
            .await
            .map_err(|e| format!("connect {target}: {e}"))?;
        match tls {
            None => get_health(stream, target).await,
            Some(config) => {
                let stream = tokio_rustls::TlsConnector::from(config)
                    .connect(ServerName::IpAddress(target.ip().into()), stream)
                    .await
                    .map_err(|e| format!("TLS handshake with {target}: {e}"))?;
                get_health(stream, target).await
            }
        }
    };
    tokio::time::timeout(TIMEOUT, attempt)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// Sends `GET /health` on `stream` and checks for a 200 with `"status":"ok"`.
async fn get_health<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    target: SocketAddr,
) -> Result<(), String> {
    let request = format!("GET /health HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    // A TLS server that closes without close_notify ends the read with an error after the
    // answer: judge what arrived.
    let read = (&mut stream).take(MAX_ANSWER).read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    if text.starts_with("HTTP/1.1 200") && text.contains("\"status\":\"ok\"") {
        return Ok(());
    }
    read.map_err(|e| format!("read: {e}"))?;
    Err(format!(
        "unhealthy answer: {}",
        text.lines().next().unwrap_or_default()
    ))
}
