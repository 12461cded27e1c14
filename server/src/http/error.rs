//! JSON error responses (HS-HTTP-1): `{"error":{"code":..,"message":..}}` with the status of
//! SPEC.md's table, `Retry-After` on 429 and `WWW-Authenticate` on the revocation 401.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use humansync_protocol::http::{ErrorBody, ErrorDetail, error_codes};

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code from [`error_codes`].
    pub code: &'static str,
    /// Human text.
    pub message: String,
    /// `Retry-After` seconds (429).
    pub retry_after_secs: Option<u64>,
    /// The signer's Revoked record (hex), with a 403 `revoked` to a signed request (HS-GATE-7).
    pub record: Option<String>,
    /// Add `WWW-Authenticate: HumanSync-OPAQUE` (HS-HTTP-4).
    pub auth_challenge: bool,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
            record: None,
            auth_challenge: false,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error_codes::BAD_REQUEST, message)
    }

    /// 401 `wrong_password`.
    pub fn wrong_password() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            error_codes::WRONG_PASSWORD,
            "wrong or missing password",
        )
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, error_codes::UNAUTHORIZED, message)
    }

    /// 403 `revoked`.
    pub fn revoked() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            error_codes::REVOKED,
            "this device id is revoked",
        )
    }

    /// 403 `revoked` to a request the revoked device signed: with its Revoked record (hex of
    /// postcard(SignedRecord)), from which it learns that it is revoked (HS-GATE-7).
    pub fn revoked_with(record: Option<String>) -> ApiError {
        let mut e = ApiError::revoked();
        e.record = record;
        e
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, error_codes::NOT_FOUND, message)
    }

    /// 413 `body_too_large`.
    pub fn body_too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            error_codes::BODY_TOO_LARGE,
            format!(
                "request body over {} bytes",
                humansync_protocol::limits::MAX_HTTP_BODY
            ),
        )
    }

    /// 429 `rate_limited` with `Retry-After` (whole seconds, rounded up, at least 1; HS-PAIR-2).
    pub fn rate_limited(message: impl Into<String>, retry_after_ms: u64) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, error_codes::RATE_LIMITED, message);
        e.retry_after_secs = Some(retry_after_ms.div_ceil(1_000).max(1));
        e
    }

    /// `upgrade_required` with `status` (410 for `POST /pair`, 401 for Basic credentials): a
    /// client of HTTP API version 1.
    pub fn upgrade_required(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::new(status, error_codes::UPGRADE_REQUIRED, message)
    }

    /// 401 `login_expired`: the login id is unknown, already used or expired.
    pub fn login_expired() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            error_codes::LOGIN_EXPIRED,
            "unknown, used or expired login: start again",
        )
    }

    /// `invitation_invalid` with `status` (401 unknown or bad proof, 410 used, expired or revoked).
    pub fn invitation_invalid(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::new(status, error_codes::INVITATION_INVALID, message)
    }

    /// 408 `request_timeout`: the body did not arrive in time (HS-HTTP-9).
    pub fn request_timeout() -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            error_codes::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
        )
    }

    /// 500 `internal`. The detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {detail}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_codes::INTERNAL,
            "internal server error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                record: self.record,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.auth_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(humansync_protocol::login::OPAQUE_AUTH_SCHEME),
            );
        }
        response
    }
}
