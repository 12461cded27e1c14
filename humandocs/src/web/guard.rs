//! Who may talk to the UI server: only pages the server itself served.
//!
//! Every request must name the server in `Host` as `127.0.0.1:PORT`, `localhost:PORT` or
//! `[::1]:PORT` (a page on another site that points its own DNS name at 127.0.0.1 — DNS
//! rebinding — sends its own name there). A request carrying `Origin` must come from one of those
//! origins, and every request that changes something must carry it (browsers always send it on
//! `POST`, `PUT` and `DELETE`), so another web page cannot make the browser act here (CSRF).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;

/// The names this server answers to, for one port.
#[derive(Debug, Clone)]
pub struct Allowed {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Allowed {
    /// The loopback names for `port`.
    pub fn loopback(port: u16) -> Self {
        let hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect();
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Allowed { hosts, origins }
    }

    /// Checks one request's method and headers.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.to_ascii_lowercase());
        if !host.is_some_and(|h| self.hosts.contains(&h)) {
            return Err(ApiError::forbidden(
                "unexpected Host header: open the address humandocs printed",
            ));
        }
        let origin = headers
            .get(header::ORIGIN)
            .map(|o| o.to_str().unwrap_or("?").to_ascii_lowercase());
        match origin {
            Some(o) if !self.origins.contains(&o) => {
                Err(ApiError::forbidden("requests from other web pages are refused"))
            }
            None if !matches!(*method, Method::GET | Method::HEAD) => Err(ApiError::forbidden(
                "a request that changes something must carry the Origin header",
            )),
            _ => Ok(()),
        }
    }
}

/// The middleware: refuses with 403 what [`Allowed::check`] refuses.
pub async fn middleware(State(allowed): State<Allowed>, request: Request, next: Next) -> Response {
    match allowed.check(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(header::HOST, HeaderValue::from_str(v).expect("value"));
        }
        if let Some(v) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn only_loopback_names_and_own_origins_pass() {
        let a = Allowed::loopback(4580);
        assert!(
            a.check(&Method::GET, &headers(Some("127.0.0.1:4580"), None))
                .is_ok()
        );
        assert!(
            a.check(&Method::GET, &headers(Some("LOCALHOST:4580"), None))
                .is_ok()
        );
        assert!(
            a.check(
                &Method::POST,
                &headers(Some("localhost:4580"), Some("http://localhost:4580"))
            )
            .is_ok()
        );
        // DNS rebinding: the attacker's name in Host.
        assert!(
            a.check(&Method::GET, &headers(Some("evil.example:4580"), None))
                .is_err()
        );
        assert!(
            a.check(&Method::GET, &headers(Some("127.0.0.1:9999"), None))
                .is_err()
        );
        assert!(a.check(&Method::GET, &headers(None, None)).is_err());
        // CSRF: another page's origin, or a change without an origin.
        assert!(
            a.check(
                &Method::POST,
                &headers(Some("127.0.0.1:4580"), Some("http://evil.example"))
            )
            .is_err()
        );
        assert!(
            a.check(&Method::GET, &headers(Some("127.0.0.1:4580"), Some("null")))
                .is_err()
        );
        assert!(
            a.check(&Method::DELETE, &headers(Some("127.0.0.1:4580"), None))
                .is_err()
        );
    }
}
