//! Revocation over the API (HS-HTTP-4): an OPAQUE login bound to the target
//! (`POST /devices/{node_id}/revoke/start`), finished by `DELETE /devices/{node_id}` with
//! `Authorization: HumanSync-OPAQUE login_id=…,ke3=…`. A login can be finished once, and only
//! for the target it was started for, so a captured request cannot be replayed. A start signed
//! by a registered device (HS-HTTP-3) is counted in that device's own budget, which
//! unauthenticated traffic cannot exhaust (HS-PAIR-7); the host CLI (`devices revoke`) is the
//! fallback that needs no network at all.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use humansync_protocol::http::RevokeResponse;
use humansync_protocol::login::{LoginStartResponse, OpaqueAuth, RevokeStartRequest};
use humansync_protocol::{DeviceId, RegistryRecord};
use humansync_sansio::pairing::pake::Context;

use super::error::ApiError;
use super::limit::read_body;
use super::login;
use super::signed::{is_signed, signer};
use super::{AppState, ClientAddr};
use crate::guard::SourceKey;
use crate::logins::{Budget, Purpose};

/// The audit form of a path id: the parsed id, or `-` (never the raw text, HS-PAIR-3).
fn audit_id(raw: &str) -> String {
    raw.parse::<DeviceId>()
        .map_or_else(|_| "-".to_owned(), |d| d.to_string())
}

/// `POST /devices/{node_id}/revoke/start`.
pub(super) async fn revoke_start(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<LoginStartResponse>, ApiError> {
    let source = state.trusted_proxies.source(client.0, &headers);
    let outcome = async {
        let bytes = read_body(body).await?;
        let target: DeviceId = raw_id
            .parse()
            .map_err(|_| ApiError::bad_request("node_id is not a valid device id"))?;
        let request: RevokeStartRequest = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid revocation request: {e}")))?;
        let budget = if is_signed(&headers) {
            let path = format!("/devices/{raw_id}/revoke/start");
            Budget::Device(signer(&state, "POST", &path, &headers).await?)
        } else {
            Budget::Source(SourceKey::of(source.ip))
        };
        let context = Context::revoke(&state.server_id, &target);
        let response = login::open(
            &state,
            budget,
            &request.ke1.0,
            context,
            Purpose::Revoke { target },
        )?;
        Ok::<_, ApiError>((budget, response))
    }
    .await;
    let node_id = audit_id(&raw_id);
    match &outcome {
        Ok((budget, _)) => {
            tracing::info!(target: "humansync::audit", action = "revoke_start", node_id = %node_id, source = %source, via = %source.via(), signed_by = %signed_by(budget), outcome = "ok")
        }
        Err(e) => {
            tracing::warn!(target: "humansync::audit", action = "revoke_start", node_id = %node_id, source = %source, via = %source.via(), status = e.status.as_u16(), code = e.code, outcome = "refused")
        }
    }
    outcome.map(|(_, r)| Json(r))
}

fn signed_by(budget: &Budget) -> String {
    match budget {
        Budget::Device(d) => d.to_string(),
        Budget::Source(_) => "-".into(),
    }
}

/// `DELETE /devices/{node_id}`.
pub(super) async fn revoke(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RevokeResponse>, ApiError> {
    let source = state.trusted_proxies.source(client.0, &headers);
    let outcome = run(&state, &raw_id, &headers).await;
    // HS-PAIR-3: log every revocation attempt with parsed values only; never the header.
    let node_id = audit_id(&raw_id);
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

fn challenge(mut e: ApiError) -> ApiError {
    e.auth_challenge = true;
    e
}

async fn run(state: &AppState, raw_id: &str, headers: &HeaderMap) -> Result<RevokeResponse, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let auth = match value {
        Some(v) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => {
            return Err(challenge(ApiError::upgrade_required(
                StatusCode::UNAUTHORIZED,
                "this server speaks HTTP API version 2: revocation uses an OPAQUE login (POST /devices/{id}/revoke/start) and never takes the password; update the client, or run `humansync-server devices revoke` on the server host",
            )));
        }
        Some(v) => OpaqueAuth::parse(v).ok_or_else(|| challenge(ApiError::wrong_password()))?,
        None => return Err(challenge(ApiError::wrong_password())),
    };
    let device: DeviceId = raw_id
        .parse()
        .map_err(|_| ApiError::bad_request("node_id is not a valid device id"))?;
    let now = state.clock.now_ms();
    let pending = state
        .logins
        .take(now, &auth.login_id)
        .ok_or_else(ApiError::login_expired)?;
    if pending.purpose != (Purpose::Revoke { target: device }) {
        return Err(ApiError::login_expired());
    }
    pending
        .state
        .finish(&auth.ke3.0, &pending.context)
        .map_err(|_| challenge(ApiError::wrong_password()))?;
    login::resolve(state, pending.budget, pending.attempt);
    let view = state.registry.view().await.map_err(ApiError::internal)?;
    if device == state.server_id || !view.is_registered(&device) {
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
