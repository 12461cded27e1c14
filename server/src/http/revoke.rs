//! `DELETE /devices/{node_id}` (HS-HTTP-4): revocation with the admin password, under the same
//! guard as pairing (HS-PAIR-7).

use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, header};
use base64::Engine;
use humansync_protocol::http::RevokeResponse;
use humansync_protocol::{DeviceId, RegistryRecord};

use super::error::ApiError;
use super::{AppState, ClientAddr};
use crate::guard::SourceKey;
use crate::proxy::Source;

/// The handler.
pub(super) async fn revoke(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RevokeResponse>, ApiError> {
    // HS-PAIR-10: the client's address, forwarded by a trusted proxy or the TCP peer's.
    let source = state.trusted_proxies.source(client.0, &headers);
    let outcome = run(&state, source, &raw_id, &headers).await;
    // HS-PAIR-3: log every revocation attempt; never the Authorization header.
    let node_id: String = raw_id.chars().take(64).collect();
    match &outcome {
        Ok(r) => {
            tracing::info!(target: "humansync::audit", action = "revoke", node_id = %node_id, source = %source, via = %source.via(), revoked_at_ms = r.revoked_at_ms, outcome = "ok")
        }
        Err(e) => {
            tracing::warn!(target: "humansync::audit", action = "revoke", node_id = %node_id, source = %source, via = %source.via(), status = e.status.as_u16(), code = e.code, outcome = "refused")
        }
    }
    outcome.map(Json)
}

/// `Authorization: Basic base64(user:password)` → (user, password).
fn basic_credentials(headers: &HeaderMap) -> Option<(Vec<u8>, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let password = String::from_utf8(decoded[colon + 1..].to_vec()).ok()?;
    Some((decoded[..colon].to_vec(), password))
}

fn challenge(mut e: ApiError) -> ApiError {
    e.basic_challenge = true;
    e
}

async fn run(
    state: &AppState,
    source: Source,
    raw_id: &str,
    headers: &HeaderMap,
) -> Result<RevokeResponse, ApiError> {
    let key = SourceKey::of(source.ip);
    let now = state.clock.now_ms();
    state
        .guard
        .check(now, key)
        .map_err(|r| ApiError::rate_limited(r.to_string(), r.retry_after_ms()))?;
    let Some((user, password)) = basic_credentials(headers) else {
        return Err(challenge(ApiError::wrong_password()));
    };
    let ok = state.password.verify_admin(&user, password).await;
    let now = state.clock.now_ms();
    if !ok {
        // HS-PAIR-7: a wrong admin password feeds the pairing guard's counters.
        state.guard.failure(now, key);
        return Err(challenge(ApiError::wrong_password()));
    }
    state.guard.success(now, key);
    let device: DeviceId = raw_id
        .parse()
        .map_err(|_| ApiError::bad_request("node_id is not a valid device id"))?;
    let snapshot = state.registry.snapshot().await.map_err(ApiError::internal)?;
    if device == state.server_id || !snapshot.view.is_registered(&device) {
        return Err(ApiError::not_found("no such device"));
    }
    let record = state
        .registry
        .revoke(device, now)
        .await
        .map_err(ApiError::internal)?;
    let revoked_at_ms = match record.verify(&state.server_id) {
        Ok(RegistryRecord::Revoked { revoked_at_ms, .. }) => revoked_at_ms,
        _ => return Err(ApiError::internal("stored revocation does not verify")),
    };
    Ok(RevokeResponse {
        node_id: device,
        revoked_at_ms,
        record: hex::encode(record.encode()),
    })
}
