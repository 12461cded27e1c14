//! Errors of the UI's JSON API: `{"error":{"code":…,"message":…}}` with a fitting HTTP status,
//! and the bounded JSON body extractor that produces them.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::AppError;

/// Largest JSON request body, in bytes (a pasted text up to the schema's 1 MiB insert, escaped).
pub const MAX_JSON_BYTES: usize = 3 << 20;

/// An API failure.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable snake_case code.
    pub code: String,
    /// Human text, shown by the page.
    pub message: String,
}

impl ApiError {
    /// 403 with `message`.
    pub fn forbidden(message: &str) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden".into(),
            message: message.into(),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request".into(),
            message: message.into(),
        }
    }

    /// 413: `what` is larger than `max` bytes.
    pub fn too_large(what: &str, max: u64) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large".into(),
            message: format!("{what} is too large: at most {} MiB", max / (1 << 20)),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = match e.code() {
            "not_found" | "no_attachment" => StatusCode::NOT_FOUND,
            "bad_id" | "bad_request" | "invalid" | "out_of_range" => StatusCode::BAD_REQUEST,
            "wrong_password" => StatusCode::UNAUTHORIZED,
            "pairing_failed" | "unavailable" => StatusCode::BAD_GATEWAY,
            "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "quarantined" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

impl From<crate::schema::SchemaError> for ApiError {
    fn from(e: crate::schema::SchemaError) -> Self {
        AppError::Schema(e).into()
    }
}

impl From<humansync::Error> for ApiError {
    fn from(e: humansync::Error) -> Self {
        AppError::Sync(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

/// A JSON body of at most [`MAX_JSON_BYTES`]; refusals are [`ApiError`]s (413 when too large).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BYTES)
            .await
            .map_err(|_| ApiError::too_large("the request", MAX_JSON_BYTES as u64))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("malformed request: {e}")))
    }
}
