//! The server side of an OPAQUE login, shared by pairing (`/pair/start`) and revocation
//! (`/devices/{id}/revoke/start`): room in the login table, the attempt counted by the guard that
//! owns the budget (HS-PAIR-2, HS-PAIR-7), KE2 under the caller's context, the pending login
//! filed; and, when the login finishes, the attempt resolved as a success.

use humansync_protocol::login::{Hex, LoginStartResponse};
use humansync_sansio::pairing::Attempt;
use humansync_sansio::pairing::pake::{Context, ServerStart};

use super::AppState;
use super::error::ApiError;
use crate::logins::{Budget, Full, Purpose};
use crate::password::os_rng;

/// Starts a login for `purpose` counted in `budget`: answers `ke1` with KE2 under `context`.
pub(super) fn open(
    state: &AppState,
    budget: Budget,
    ke1: &[u8],
    context: Context,
    purpose: Purpose,
) -> Result<LoginStartResponse, ApiError> {
    let now = state.clock.now_ms();
    state.logins.has_room(now, budget).map_err(full)?;
    let refused =
        |r: humansync_sansio::pairing::Refusal| ApiError::rate_limited(r.to_string(), r.retry_after_ms());
    let attempt = match &budget {
        Budget::Source(key) => state.guard.begin(now, key).map_err(refused)?,
        Budget::Device(device) => state.owner_guard.begin(now, device).map_err(refused)?,
    };
    let (ke2, server) = ServerStart::start(
        state.password.keys(),
        state.password.record(),
        ke1,
        &context,
        &mut os_rng().map_err(ApiError::internal)?,
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let login_id = new_login_id()?;
    state
        .logins
        .insert(now, login_id, server, context, purpose, budget, attempt)
        .map_err(full)?;
    Ok(LoginStartResponse {
        login_id,
        server_node_id: state.server_id,
        ke2: Hex(ke2.try_into().map_err(|_| ApiError::internal("KE2 length"))?),
    })
}

/// Resolves a finished login as a success in the guard that counted it.
pub(super) fn resolve(state: &AppState, budget: Budget, attempt: Attempt) {
    let now = state.clock.now_ms();
    match budget {
        Budget::Source(key) => state.guard.succeed(now, &key, attempt),
        Budget::Device(device) => state.owner_guard.succeed(now, &device, attempt),
    }
}

/// 429 for a full login table.
fn full(e: Full) -> ApiError {
    match e {
        Full::Source => ApiError::rate_limited("too many logins in progress from this source", 1_000),
        Full::Global => ApiError::rate_limited("too many logins in progress", 1_000),
    }
}

/// A fresh login id.
fn new_login_id() -> Result<Hex<16>, ApiError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(ApiError::internal)?;
    Ok(Hex(id))
}
