//! Requests signed by a registered device (HS-HTTP-3): `GET /devices`, `POST /invitations`, and
//! the owner's revocation login. The signer is checked before any registry snapshot is built.

use axum::http::{HeaderMap, header};
use humansync_protocol::DeviceId;
use humansync_protocol::http::SignedAuth;
use humansync_protocol::limits::HTTP_AUTH_FUTURE_MS;

use super::AppState;
use super::error::ApiError;
use crate::replay::ReplayError;

/// Whether `headers` carry a `HumanSync-Ed25519` signature at all.
pub(super) fn is_signed(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(humansync_protocol::http::HTTP_AUTH_SCHEME))
}

/// Verifies the signature of `method path` and returns the signer, a registered and unrevoked
/// device. Order: header → time window (not before this process started, at most
/// `HTTP_AUTH_FUTURE_MS` ahead) → signature → registration (401) / revocation (403) → nonce.
pub(super) async fn signer(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<DeviceId, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))?
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not ASCII"))?;
    let auth = SignedAuth::parse(header).map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let now = state.clock.now_ms();
    if auth.ts_ms > now.saturating_add(HTTP_AUTH_FUTURE_MS) {
        return Err(ApiError::unauthorized("request timestamp is in the future"));
    }
    // Nonces live in memory: a request signed before this process started may have been
    // accepted by its predecessor, so it could be a replay (HS-HTTP-3).
    if auth.ts_ms < state.started_at_ms {
        return Err(ApiError::unauthorized(
            "request timestamp is older than the server's start: sign it again",
        ));
    }
    auth.verify(method, path, now)
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let view = state.registry.view().await.map_err(ApiError::internal)?;
    if view.is_revoked(&auth.node_id) {
        // The signature is the device's own: hand it the proof, so that it stops dialling
        // (HS-GATE-7). Every peer refuses its connections, so no `_devices` sync can tell it.
        let record = state
            .registry
            .db()
            .record_of(&auth.node_id, crate::db::RecordKind::Revoked)
            .await
            .ok()
            .flatten()
            .map(|r| hex::encode(r.encode()));
        return Err(ApiError::revoked_with(record));
    }
    if !view.is_registered(&auth.node_id) {
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
    Ok(auth.node_id)
}
