//! The page: plain HTML, CSS and JavaScript embedded in the binary (no framework, no build step).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The HTML page.
pub const INDEX_HTML: &str = include_str!("../../web/index.html");
/// The script.
pub const APP_JS: &str = include_str!("../../web/app.js");
/// The style sheet.
pub const STYLE_CSS: &str = include_str!("../../web/style.css");

/// Total bytes of the page (HTML, script, style).
pub fn page_bytes() -> usize {
    INDEX_HTML.len() + APP_JS.len() + STYLE_CSS.len()
}

/// What every page response carries: scripts and styles only from here, no framing by other
/// sites, no sniffing.
const CSP: &str = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// `GET /`.
pub async fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

/// `GET /app.js`.
pub async fn script() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

/// `GET /style.css`.
pub async fn style() -> Response {
    asset(STYLE_CSS, "text/css; charset=utf-8")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_light() {
        // The bound: the whole UI under a few hundred KB.
        assert!(super::page_bytes() < 200 * 1024, "{} bytes", super::page_bytes());
    }
}
