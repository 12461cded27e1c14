//! The library's HTTP client side of SPEC.md §5: one client with timeouts, bounded response reads
//! (HS-HTTP-1) and the server's JSON error bodies turned into readable messages.

use std::time::Duration;

use humansync_protocol::http::ErrorBody;
use humansync_protocol::limits::MAX_HTTP_RESPONSE;

/// How long one request may take end to end.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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
    },
    /// The body is not the JSON expected.
    #[error("bad response body: {0}")]
    Body(String),
}

/// A client with the library's timeouts.
pub(crate) fn client() -> Result<reqwest::Client, HttpError> {
    // reqwest is built without a bundled crypto provider (it would panic building a client):
    // use ring, which iroh uses too, unless the app installed another process default first.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| HttpError::Transport(e.to_string()))
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

/// Sends `request` and decodes a successful JSON answer, reading at most `MAX_HTTP_RESPONSE`
/// bytes of body (HS-HTTP-1).
pub(crate) async fn exchange<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, HttpError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| HttpError::Transport(e.to_string()))?;
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
        .map_err(|e| HttpError::Transport(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_HTTP_RESPONSE {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let detail = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| format!("{}: {}", b.error.code, b.error.message))
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
        return Err(HttpError::Status { status, detail });
    }
    serde_json::from_slice(&body).map_err(|e| HttpError::Body(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

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
