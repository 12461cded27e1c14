//! The request-body limit (HS-HTTP-1): a declared `Content-Length` over `MAX_HTTP_BODY` is
//! answered 413 before anything else runs; a body without a length is read at most up to the
//! limit ([`read_body`]).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use humansync_protocol::limits::MAX_HTTP_BODY;

use super::error::ApiError;

/// Middleware: 413 for a declared body over the limit, on every route.
pub(super) async fn limit_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_HTTP_BODY as u64) {
        return ApiError::body_too_large().into_response();
    }
    next.run(request).await
}

/// Reads a body of at most `MAX_HTTP_BODY` bytes within `BODY_READ_TIMEOUT`; more is 413,
/// without buffering it all; slower is 408.
pub(super) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let read = axum::body::to_bytes(body, MAX_HTTP_BODY);
    let Ok(read) = tokio::time::timeout(super::listener::BODY_READ_TIMEOUT, read).await else {
        return Err(ApiError::request_timeout());
    };
    read.map_err(|e| {
        // to_bytes fails only on a transport error or the length limit; both end the request.
        tracing::debug!("request body refused: {e}");
        ApiError::body_too_large()
    })
}
