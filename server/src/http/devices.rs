//! `GET /devices` (HS-HTTP-3): a request signed by a registered device's key.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use humansync_protocol::http::DevicesResponse;

use super::AppState;
use super::error::ApiError;
use super::signed::signer;

/// The handler: the signer is checked first; only then is the registry snapshot built.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<DevicesResponse>, ApiError> {
    signer(&state, method.as_str(), uri.path(), &headers).await?;
    let snapshot = state.registry.snapshot().await.map_err(ApiError::internal)?;
    Ok(Json(DevicesResponse {
        devices: snapshot.devices,
    }))
}
