//! Password pairing with OPAQUE (HS-HTTP-2, HS-PAIR-11, HS-PAIR-12): `POST /pair/start` answers
//! the device's KE1 with KE2 under a context that binds the server id, the device id and its
//! name; `POST /pair/finish` checks KE3, registers the device and answers with the pairing
//! answer MAC'ed under the session key. `POST /pair` of HTTP API version 1 is refused unread.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use humansync_protocol::http::sanitize_device_name;
use humansync_protocol::login::{LoginStartResponse, PairFinishRequest, PairStartRequest, SealedAnswer};
use humansync_sansio::pairing::pake::Context;

use super::error::ApiError;
use super::limit::read_body;
use super::login;
use super::{AppState, ClientAddr};
use crate::guard::SourceKey;
use crate::logins::{Budget, Purpose};

/// `POST /pair` (version 1): 410 `upgrade_required`, without reading the body (HS-HTTP-8).
pub(super) async fn legacy_pair() -> ApiError {
    ApiError::upgrade_required(
        StatusCode::GONE,
        "this server speaks HTTP API version 2: pairing uses OPAQUE (POST /pair/start, /pair/finish) and never sends the password; update the app",
    )
}

/// `POST /pair/start`.
pub(super) async fn pair_start(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<LoginStartResponse>, ApiError> {
    let source = state.trusted_proxies.source(client.0, &headers);
    let bytes = read_body(body).await?;
    // A request that is not a login attempt at all is refused before it counts (HS-PAIR-2).
    let request: PairStartRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid pairing request: {e}")))?;
    let outcome = start(&state, source.ip, &request);
    match &outcome {
        Ok(_) => {
            tracing::info!(target: "humansync::audit", action = "pair_start", node_id = %request.node_id, name = ?request.device_name, source = %source, via = %source.via(), outcome = "ok")
        }
        Err(e) => {
            tracing::warn!(target: "humansync::audit", action = "pair_start", node_id = %request.node_id, name = ?request.device_name, source = %source, via = %source.via(), status = e.status.as_u16(), code = e.code, outcome = "refused")
        }
    }
    outcome.map(Json)
}

fn start(
    state: &AppState,
    ip: std::net::IpAddr,
    request: &PairStartRequest,
) -> Result<LoginStartResponse, ApiError> {
    if request.node_id == state.server_id {
        return Err(ApiError::bad_request("node_id is the server's own id"));
    }
    if sanitize_device_name(&request.device_name).is_none() {
        return Err(ApiError::bad_request("device_name is empty after sanitising"));
    }
    let context = Context::pair(&state.server_id, &request.node_id, &request.device_name);
    let purpose = Purpose::Pair {
        device: request.node_id,
        name: request.device_name.clone(),
    };
    login::open(
        state,
        Budget::Source(SourceKey::of(ip)),
        &request.ke1.0,
        context,
        purpose,
    )
}

/// `POST /pair/finish`.
pub(super) async fn pair_finish(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SealedAnswer>, ApiError> {
    let source = state.trusted_proxies.source(client.0, &headers);
    let bytes = read_body(body).await?;
    let request: PairFinishRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid pairing request: {e}")))?;
    let now = state.clock.now_ms();
    let pending = state
        .logins
        .take(now, &request.login_id)
        .ok_or_else(ApiError::login_expired)?;
    let Purpose::Pair { device, name } = pending.purpose.clone() else {
        return Err(ApiError::login_expired());
    };
    let outcome = async {
        // A wrong password was already detected on the device; a KE3 that does not verify here
        // is a forgery or an altered context. The attempt stays counted as a failure.
        let session = pending
            .state
            .finish(&request.ke3.0, &pending.context)
            .map_err(|_| ApiError::wrong_password())?;
        login::resolve(&state, pending.budget, pending.attempt);
        let answer = super::answer::pairing_answer(&state, device, &name, &headers).await?;
        let text = serde_json::to_string(&answer).map_err(ApiError::internal)?;
        let auth = hex::encode(session.answer_mac(text.as_bytes()));
        Ok::<_, ApiError>(SealedAnswer { answer: text, auth })
    }
    .await;
    match &outcome {
        Ok(_) => {
            tracing::info!(target: "humansync::audit", action = "pair", node_id = %device, name = ?name, source = %source, via = %source.via(), outcome = "ok")
        }
        Err(e) => {
            tracing::warn!(target: "humansync::audit", action = "pair", node_id = %device, name = ?name, source = %source, via = %source.via(), status = e.status.as_u16(), code = e.code, outcome = "refused")
        }
    }
    outcome.map(Json)
}
