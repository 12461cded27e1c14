//! One-time invitations over the API (HS-INV-2..5): `POST /invitations`, signed by a registered
//! device, stores a new invitation's public key; `POST /invitations/redeem` pairs a new device
//! that proves it holds the invitation's secret key, and answers signed by the server's key.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use ed25519_dalek::Signer;
use humansync_protocol::invitation::{
    CreateInvitationRequest, CreateInvitationResponse, RedeemRequest, answer_input,
};
use humansync_protocol::login::SealedAnswer;

use super::error::ApiError;
use super::limit::read_body;
use super::signed::signer;
use super::{AppState, ClientAddr};
use crate::guard::SourceKey;
use crate::invitations::{self, MintError, Minter, granted_ttl_ms};

/// `POST /invitations`.
pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CreateInvitationResponse>, ApiError> {
    let source = state.trusted_proxies.source(client.0, &headers);
    let device = signer(&state, "POST", "/invitations", &headers).await?;
    let outcome = async {
        let bytes = read_body(body).await?;
        let request: CreateInvitationRequest = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid invitation request: {e}")))?;
        if ed25519_dalek::VerifyingKey::from_bytes(&request.invitation.0).is_err() {
            return Err(ApiError::bad_request("invitation is not an Ed25519 public key"));
        }
        let now = state.clock.now_ms();
        let ttl = granted_ttl_ms(request.ttl_ms);
        let expires_at_ms = invitations::mint(
            state.registry.db(),
            &request.invitation,
            Minter::Device(device),
            now,
            ttl,
        )
        .await
        .map_err(|e| match e {
            MintError::TooMany => ApiError::rate_limited(e.to_string(), 60_000),
            MintError::Db(e) => ApiError::internal(e),
        })?;
        Ok::<_, ApiError>(CreateInvitationResponse {
            invitation: request.invitation,
            expires_at_ms,
            server_node_id: state.server_id,
            server_addrs: state.server_addrs(),
        })
    }
    .await;
    match &outcome {
        Ok(r) => {
            tracing::info!(target: "humansync::audit", action = "invite", invitation = %r.invitation, minted_by = %device, expires_at_ms = r.expires_at_ms, source = %source, outcome = "ok")
        }
        Err(e) => {
            tracing::warn!(target: "humansync::audit", action = "invite", minted_by = %device, source = %source, status = e.status.as_u16(), code = e.code, outcome = "refused")
        }
    }
    outcome.map(Json)
}

/// `POST /invitations/redeem`.
pub(super) async fn redeem(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SealedAnswer>, ApiError> {
    let source = state.trusted_proxies.source(client.0, &headers);
    let bytes = read_body(body).await?;
    let request: RedeemRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid redemption request: {e}")))?;
    let outcome = run(&state, source.ip, &request, &headers).await;
    match &outcome {
        Ok(_) => {
            tracing::info!(target: "humansync::audit", action = "redeem", invitation = %request.invitation, node_id = %request.node_id, name = ?request.device_name, source = %source, via = %source.via(), outcome = "ok")
        }
        Err(e) => {
            tracing::warn!(target: "humansync::audit", action = "redeem", invitation = %request.invitation, node_id = %request.node_id, name = ?request.device_name, source = %source, via = %source.via(), status = e.status.as_u16(), code = e.code, outcome = "refused")
        }
    }
    outcome.map(Json)
}

async fn run(
    state: &AppState,
    ip: std::net::IpAddr,
    request: &RedeemRequest,
    headers: &HeaderMap,
) -> Result<SealedAnswer, ApiError> {
    let key = SourceKey::of(ip);
    let now = state.clock.now_ms();
    // HS-INV-5: every redemption is an attempt, a failure until it succeeds, like a password.
    let attempt = state
        .invite_guard
        .begin(now, &key)
        .map_err(|r| ApiError::rate_limited(r.to_string(), r.retry_after_ms()))?;
    let unknown = || {
        ApiError::invitation_invalid(
            StatusCode::UNAUTHORIZED,
            "unknown invitation, or the proof does not verify",
        )
    };
    let row = invitations::get(state.registry.db(), &request.invitation)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(unknown)?;
    if !request.verify(&state.server_id) {
        return Err(unknown());
    }
    let gone = |why: &str| ApiError::invitation_invalid(StatusCode::GONE, format!("the invitation is {why}"));
    match row.state(now) {
        "active" => {}
        other => return Err(gone(other)),
    }
    let view = state.registry.view().await.map_err(ApiError::internal)?;
    if let Minter::Device(minter) = row.minter()
        && (view.is_revoked(&minter) || !view.is_registered(&minter))
    {
        return Err(gone("void: the device that made it was revoked"));
    }
    if view.is_revoked(&request.node_id) {
        return Err(ApiError::revoked());
    }
    if request.node_id == state.server_id {
        return Err(ApiError::bad_request("node_id is the server's own id"));
    }
    if humansync_protocol::http::sanitize_device_name(&request.device_name).is_none() {
        return Err(ApiError::bad_request("device_name is empty after sanitising"));
    }
    if !invitations::consume(state.registry.db(), &request.invitation, &request.node_id, now)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(gone("used, expired or revoked"));
    }
    state.invite_guard.succeed(state.clock.now_ms(), &key, attempt);
    let answer = super::answer::pairing_answer(state, request.node_id, &request.device_name, headers).await?;
    let text = serde_json::to_string(&answer).map_err(ApiError::internal)?;
    let signature = state.registry.node().signing_key().sign(&answer_input(
        &request.invitation,
        &request.node_id,
        text.as_bytes(),
    ));
    Ok(SealedAnswer {
        answer: text,
        auth: hex::encode(signature.to_bytes()),
    })
}
