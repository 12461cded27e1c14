//! `POST /pair` (HS-HTTP-2): body size → rate limit, backoff, lockout → JSON, id and name →
//! password → revocation → sign, store, answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use humansync_protocol::http::{PairRequest, PairResponse, sanitize_device_name};
use humansync_sansio::pairing::{PairDecision, decide_pair};

use super::error::ApiError;
use super::limit::read_body;
use super::{AppState, ClientAddr};
use crate::guard::SourceKey;
use crate::proxy::Source;
use crate::registry::Registered;

/// The handler.
pub(super) async fn pair(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PairResponse>, ApiError> {
    // HS-PAIR-10: the client's address, forwarded by a trusted proxy or the TCP peer's.
    let source = state.trusted_proxies.source(client.0, &headers);
    let outcome = run(&state, source, body).await.map(|(node, mut answer)| {
        answer.relay_url = state.relay.url_for(&headers);
        (node, answer)
    });
    // HS-PAIR-3: every attempt is logged with the claimed id, the source and the outcome; the
    // password and the headers never are.
    match &outcome {
        Ok((node, _)) => {
            tracing::info!(target: "humansync::audit", action = "pair", node_id = %node, source = %source, via = %source.via(), outcome = "ok")
        }
        Err((node, e)) => {
            tracing::warn!(target: "humansync::audit", action = "pair", node_id = %node.as_deref().unwrap_or("-"), source = %source, via = %source.via(), status = e.status.as_u16(), code = e.code, outcome = "refused")
        }
    }
    outcome.map(|(_, r)| Json(r)).map_err(|(_, e)| e)
}

type Outcome = Result<(humansync_protocol::DeviceId, PairResponse), (Option<String>, ApiError)>;

async fn run(state: &AppState, source: Source, body: Body) -> Outcome {
    let bytes = read_body(body).await.map_err(|e| (None, e))?;
    let key = SourceKey::of(source.ip);
    let now = state.clock.now_ms();
    state
        .guard
        .check(now, key)
        .map_err(|r| (None, ApiError::rate_limited(r.to_string(), r.retry_after_ms())))?;
    let request: PairRequest = serde_json::from_slice(&bytes).map_err(|e| {
        (
            None,
            ApiError::bad_request(format!("invalid pairing request: {e}")),
        )
    })?;
    let claimed = Some(request.node_id.to_string());
    if request.node_id == state.server_id {
        return Err((claimed, ApiError::bad_request("node_id is the server's own id")));
    }
    // HS-PAIR-4: an empty name is refused before the password is looked at (SPEC order).
    if sanitize_device_name(&request.device_name).is_none() {
        return Err((
            claimed,
            ApiError::bad_request("device_name is empty after sanitising"),
        ));
    }
    let password_ok = state.password.verify(request.password).await;
    let now = state.clock.now_ms();
    if password_ok {
        state.guard.success(now, key);
    } else {
        state.guard.failure(now, key);
    }
    let snapshot = state
        .registry
        .snapshot()
        .await
        .map_err(|e| (claimed.clone(), ApiError::internal(e)))?;
    let decision = decide_pair(
        &snapshot.view,
        &request.node_id,
        &request.device_name,
        password_ok,
    );
    let name = match decision {
        PairDecision::WrongPassword => return Err((claimed, ApiError::wrong_password())),
        PairDecision::IsAnchor => {
            return Err((claimed, ApiError::bad_request("node_id is the server's own id")));
        }
        PairDecision::BadName => {
            return Err((
                claimed,
                ApiError::bad_request("device_name is empty after sanitising"),
            ));
        }
        PairDecision::Revoked => return Err((claimed, ApiError::revoked())),
        PairDecision::AlreadyRegistered => None,
        PairDecision::Register { name } => Some(name),
    };
    let snapshot = match name {
        Some(name) => {
            match state.registry.register(request.node_id, name, now).await {
                Ok(Registered::New(_) | Registered::Existing(_)) => {}
                Err(e) => return Err((claimed, ApiError::internal(e))),
            }
            state
                .registry
                .snapshot()
                .await
                .map_err(|e| (claimed.clone(), ApiError::internal(e)))?
        }
        None => snapshot,
    };
    Ok((
        request.node_id,
        PairResponse {
            server_node_id: state.server_id,
            server_addrs: state.server_addrs(),
            relay_url: None,
            devices: snapshot.devices,
            records: snapshot.records,
        },
    ))
}
