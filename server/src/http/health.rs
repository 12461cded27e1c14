//! `GET /health` (HS-HTTP-5) and the 404 fallback (HS-HTTP-6).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use humansync_protocol::http::HealthResponse;

use super::AppState;
use super::error::ApiError;

/// The health handler: no authentication.
pub(super) async fn health(State(state): State<Arc<AppState>>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        node_id: state.server_id,
        version: env!("CARGO_PKG_VERSION").into(),
        api_version: Some(humansync_protocol::login::HTTP_API_VERSION),
    })
}

/// Every unknown path or method: 404 `not_found` (HS-HTTP-6).
pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
