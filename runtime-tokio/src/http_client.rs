//! The library's HTTP client side of SPEC.md §5: one client with timeouts, bounded response reads
//! (HS-HTTP-1) and the server's JSON error bodies turned into readable messages.

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use humansync_protocol::http::ErrorBody;
use humansync_protocol::limits::{HTTP_HEADER_READ_TIMEOUT_MS, MAX_HTTP_RESPONSE};

use crate::Error;
use crate::config::ConfigError;

/// How long one request may take end to end.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an idle connection is kept for the next request: half the server's limit on an idle
/// keep-alive connection (HS-HTTP-9: it closes one that sends no request within
/// `HTTP_HEADER_READ_TIMEOUT_MS`). With reqwest's default (90 s) a request sent on a connection
/// idle for about that long met the server's close and failed with "connection reset by peer"
/// (seen as a revocation failing in the quick benchmarks, 1 run of 4).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_millis(HTTP_HEADER_READ_TIMEOUT_MS / 2);

/// Why an HTTP exchange with the server failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The server URL or a path joined to it is invalid.
    #[error("bad server URL: {0}")]
    Url(String),
    /// The request could not be sent or the response not read.
    #[error("{0}")]
    Transport(String),
    /// The response body is longer than `MAX_HTTP_RESPONSE`.
    #[error("response body longer than {MAX_HTTP_RESPONSE} bytes")]
    TooLarge,
    /// The server answered with an error status.
    #[error("server answered {status}: {detail}")]
    Status {
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// `code: message` from the error body, or the start of the body.
        detail: String,
        /// The signed record a 403 `revoked` carries (hex), if any (HS-GATE-7).
        record: Option<String>,
    },
    /// The body is not the JSON expected.
    #[error("bad response body: {0}")]
    Body(String),
}

/// Most bytes read from a `server_ca_cert` file.
const MAX_CA_FILE: u64 = 1024 * 1024;

/// The node's HTTP client for the server's API: the library's timeouts, the system's root
/// certificates plus those of `server_ca_cert` (a self-signed server or a private CA). Built on
/// first use and kept: building one loads the system's roots, and a machine without any (a
/// `FROM scratch` container running the server's own node) must still start.
#[derive(Debug)]
pub(crate) struct Http {
    roots: Vec<reqwest::Certificate>,
    client: OnceLock<reqwest::Client>,
}

impl Http {
    /// Reads the PEM file `ca_cert` now, so that a bad file fails `init`, not a later pairing.
    pub(crate) fn new(ca_cert: Option<&Path>) -> Result<Http, Error> {
        Ok(Http {
            roots: ca_cert.map(read_roots).transpose()?.unwrap_or_default(),
            client: OnceLock::new(),
        })
    }

    /// The client (cheap to clone).
    pub(crate) fn client(&self) -> Result<reqwest::Client, HttpError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        // reqwest is built without a bundled crypto provider (it would panic building a client):
        // use ring, which iroh uses too, unless the app installed another process default first.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT);
        if !self.roots.is_empty() {
            builder = builder.tls_certs_merge(self.roots.iter().cloned());
        }
        let client = builder.build().map_err(|e| {
            HttpError::Transport(format!("cannot set up the HTTP client: {}", with_causes(&e)))
        })?;
        // Two first uses at once build two equal clients; either is kept.
        Ok(self.client.get_or_init(|| client).clone())
    }
}

/// The certificates of PEM file `path`; at least one.
fn read_roots(path: &Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let bad = |reason: String| Error::Config(ConfigError::Certificate(path.to_owned(), reason));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| bad(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(bad(format!("longer than {MAX_CA_FILE} bytes")));
    }
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

/// The URL of API path `path` (such as `/pair`) on the server at `base`. A path prefix in `base`
/// (a reverse proxy mounting the API under `/humansync/`) is kept.
pub(crate) fn endpoint(base: &str, path: &str) -> Result<reqwest::Url, HttpError> {
    let mut base = reqwest::Url::parse(base).map_err(|e| HttpError::Url(e.to_string()))?;
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path.trim_start_matches('/'))
        .map_err(|e| HttpError::Url(e.to_string()))
}

/// `e` and its causes: reqwest's own text ("error sending request for url …") hides why, such
/// as an untrusted certificate (`invalid peer certificate: UnknownIssuer`).
fn with_causes(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    // Bounded: error chains are short, but a cyclic one must not hang.
    for _ in 0..8 {
        let Some(c) = cause else { break };
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// An `Authorization` value signing `method path` now with `key` (HS-HTTP-3).
pub(crate) fn sign_request(
    key: &ed25519_dalek::SigningKey,
    method: &str,
    path: &str,
) -> Result<String, HttpError> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| HttpError::Transport(format!("no OS randomness: {e}")))?;
    Ok(humansync_protocol::http::SignedAuth::sign(key, method, path, now_ms, nonce).to_header())
}

/// Sends `request` and decodes a successful JSON answer, reading at most `MAX_HTTP_RESPONSE`
/// bytes of body (HS-HTTP-1).
pub(crate) async fn exchange<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, HttpError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| HttpError::Transport(with_causes(&e)))?;
    let status = response.status();
    if response
        .content_length()
        .is_some_and(|len| len > MAX_HTTP_RESPONSE as u64)
    {
        return Err(HttpError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpError::Transport(with_causes(&e)))?
    {
        if body.len() + chunk.len() > MAX_HTTP_RESPONSE {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let (detail, record) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => (format!("{}: {}", b.error.code, b.error.message), b.error.record),
            Err(_) => (String::from_utf8_lossy(&body).chars().take(200).collect(), None),
        };
        return Err(HttpError::Status {
            status,
            detail,
            record,
        });
    }
    serde_json::from_slice(&body).map_err(|e| HttpError::Body(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{Http, POOL_IDLE_TIMEOUT, endpoint};
    use crate::Error;
    use crate::config::ConfigError;

    /// An HTTP/1.1 server on loopback that answers every request `200 {}` and keeps every
    /// connection open; its URL and how many connections it accepted.
    async fn keep_alive_server() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    // A GET without a body: one read holds the request's headers on loopback.
                    while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        if conn.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    #[tokio::test]
    async fn a_connection_idle_for_half_the_servers_limit_is_not_reused() {
        // HS-HTTP-9: the server closes a connection idle for HTTP_HEADER_READ_TIMEOUT_MS; the
        // client must not send on one it may be closing. This server never closes, so a second
        // connection can only come from the client giving up the idle one.
        let (url, accepted) = keep_alive_server().await;
        let client = Http::new(None).expect("http").client().expect("client");
        let get = || async {
            client
                .get(&url)
                .send()
                .await
                .expect("get")
                .bytes()
                .await
                .expect("body")
        };
        get().await;
        get().await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "a connection just used is reused"
        );
        tokio::time::sleep(POOL_IDLE_TIMEOUT + std::time::Duration::from_millis(500)).await;
        get().await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "a connection idle that long is not"
        );
    }

    #[test]
    fn a_bad_ca_file_is_a_configuration_error() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        for path in [missing, empty] {
            match Http::new(Some(&path)) {
                Err(Error::Config(ConfigError::Certificate(p, _))) => assert_eq!(p, path),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
        assert!(Http::new(None).is_ok());
    }

    #[test]
    fn endpoint_keeps_a_path_prefix() {
        let url = |base, path| endpoint(base, path).expect("url").to_string();
        assert_eq!(
            url("http://127.0.0.1:8080", "/pair"),
            "http://127.0.0.1:8080/pair"
        );
        assert_eq!(
            url("https://h.example/hs", "/devices"),
            "https://h.example/hs/devices"
        );
        assert_eq!(
            url("https://h.example/hs/", "/devices"),
            "https://h.example/hs/devices"
        );
        assert!(endpoint("not a url", "/pair").is_err());
    }
}
