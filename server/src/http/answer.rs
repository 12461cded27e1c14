//! The pairing answer (HS-HTTP-2), shared by password pairing and invitations, and the audit
//! lines of both (HS-PAIR-3: parsed values only, the device name escaped).

use axum::http::HeaderMap;
use humansync_protocol::DeviceId;
use humansync_protocol::http::PairResponse;
use humansync_sansio::pairing::{PairDecision, decide_pair};

use super::AppState;
use super::error::ApiError;
use crate::registry::Registered;

/// Registers `device` (unless it is already) and builds the answer: the server's id, addresses,
/// relay and every registry record. The caller has authenticated the request.
pub(super) async fn pairing_answer(
    state: &AppState,
    device: DeviceId,
    raw_name: &str,
    headers: &HeaderMap,
) -> Result<PairResponse, ApiError> {
    let snapshot = state.registry.snapshot().await.map_err(ApiError::internal)?;
    let snapshot = match decide_pair(&snapshot.view, &device, raw_name, true) {
        PairDecision::WrongPassword => return Err(ApiError::wrong_password()),
        PairDecision::IsAnchor => return Err(ApiError::bad_request("node_id is the server's own id")),
        PairDecision::BadName => return Err(ApiError::bad_request("device_name is empty after sanitising")),
        PairDecision::Revoked => return Err(ApiError::revoked()),
        PairDecision::AlreadyRegistered => snapshot,
        PairDecision::Register { name } => {
            let now = state.clock.now_ms();
            match state.registry.register(device, name, now).await {
                Ok(Registered::New(_) | Registered::Existing(_)) => {}
                Err(e) => return Err(ApiError::internal(e)),
            }
            state.registry.snapshot().await.map_err(ApiError::internal)?
        }
    };
    Ok(PairResponse {
        server_node_id: state.server_id,
        server_addrs: state.server_addrs(),
        relay_url: state.relay.url_for(headers),
        devices: snapshot.devices,
        records: snapshot.records,
    })
}
