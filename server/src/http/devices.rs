//! `GET /devices` (HS-HTTP-3): a request signed by a registered device's key.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use humansync_protocol::http::{DevicesResponse, SignedAuth};

use super::AppState;
use super::error::ApiError;
use crate::replay::ReplayError;

/// The handler.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<DevicesResponse>, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))?
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not ASCII"))?;
    let auth = SignedAuth::parse(header).map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let now = state.clock.now_ms();
    auth.verify(method.as_str(), uri.path(), now)
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let snapshot = state.registry.snapshot().await.map_err(ApiError::internal)?;
    if snapshot.view.is_revoked(&auth.node_id) {
        return Err(ApiError::revoked());
    }
    if !snapshot.view.is_registered(&auth.node_id) {
        return Err(ApiError::unauthorized("the signer is not a registered device"));
    }
    state
        .replay
        .accept(now, auth.node_id, auth.nonce, auth.ts_ms)
        .map_err(|e| match e {
            ReplayError::Replayed => ApiError::unauthorized("nonce already used"),
            ReplayError::Full { retry_after_ms } => {
                ApiError::rate_limited("too many signed requests", retry_after_ms)
            }
        })?;
    Ok(Json(DevicesResponse {
        devices: snapshot.devices,
    }))
}
