//! Talking to the processes: a Humandocs app through its JSON socket, the server through HTTP
//! from inside a namespace.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Longest answer line read from an app (its own limit is 4 MiB).
const MAX_ANSWER: usize = 8 << 20;

/// How one request to an app ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It succeeded: acknowledged.
    Ok(Value),
    /// It failed with the app's error.
    Err {
        /// Stable code.
        code: String,
        /// Message.
        message: String,
    },
    /// No answer (the app is down, killed mid-request, or too slow): applied or not, unknown.
    Unknown(String),
}

impl Outcome {
    /// The result on success.
    pub fn ok(&self) -> Option<&Value> {
        match self {
            Outcome::Ok(v) => Some(v),
            _ => None,
        }
    }
}

/// Sends one request line to the app whose data directory is `data`; waits up to `timeout`.
pub async fn request(data: &Path, request: &Value, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, exchange(data, request)).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => Outcome::Unknown(e),
        Err(_) => Outcome::Unknown(format!("no answer within {timeout:?}")),
    }
}

async fn exchange(data: &Path, request: &Value) -> Result<Outcome, String> {
    let path = data.join("humandocs.sock");
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .map_err(|e| format!("connect {}: {e}", path.display()))?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    line.push(b'\n');
    write.write_all(&line).await.map_err(|e| format!("write: {e}"))?;
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_ANSWER as u64));
    let mut answer = String::new();
    let n = reader
        .read_line(&mut answer)
        .await
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("connection closed without an answer".into());
    }
    let value: Value = serde_json::from_str(&answer).map_err(|e| format!("bad answer: {e}"))?;
    if value["ok"].as_bool() == Some(true) {
        Ok(Outcome::Ok(value["result"].clone()))
    } else {
        Ok(Outcome::Err {
            code: value["error"]["code"].as_str().unwrap_or("?").to_owned(),
            message: value["error"]["message"].as_str().unwrap_or("?").to_owned(),
        })
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
}

/// One HTTP/1.0 request from inside namespace `ns` (blocking; call from `spawn_blocking`).
pub fn http(
    ns: &str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    timeout: Duration,
) -> Result<HttpAnswer, String> {
    let request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    humansync_linkem::spawn_in_namespace(ns, move || -> Result<HttpAnswer, String> {
        let mut stream =
            TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("send: {e}"))?;
        let mut raw = Vec::new();
        stream
            .take(MAX_ANSWER as u64)
            .read_to_end(&mut raw)
            .map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad HTTP answer {:?}", text.chars().take(80).collect::<String>()))?;
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
        Ok(HttpAnswer { status, body })
    })
    .join()
    .map_err(|_| "HTTP thread panicked".to_owned())?
    .map_err(|e| e.to_string())?
}
