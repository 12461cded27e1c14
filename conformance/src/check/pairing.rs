//! The pairing API: request bodies, name sanitising, the pairing decision and
//! signed requests (HS-HTTP-1..3, HS-PAIR-4).

use humansync_protocol::hex_text;
use humansync_protocol::http::{SignedAuth, error_codes, sanitize_device_name, signed_request_input};
use humansync_protocol::login::PairStartRequest;
use humansync_sansio::pairing::{PairDecision, decide_pair};
use serde_json::json;

use super::Observed;
use super::registry::{build_registry, device_field, records_field};
use crate::format::Case;

fn error(status: u16, code: &str) -> Observed {
    Observed::reject(json!({"status": status, "code": code}))
}

/// `pair_request`: `body` is the raw POST /pair/start body text. Valid: it parses and
/// the name survives sanitising; `expected = {"node_id", "device_name"}` with the
/// normalised id and the sanitised name. Invalid:
/// `expected = {"status": 400, "code": "bad_request"}`.
pub(crate) fn pair_request(case: &Case) -> Result<Observed, String> {
    let body = case.str_field("body")?;
    let Ok(request) = serde_json::from_str::<PairStartRequest>(body) else {
        return Ok(error(400, error_codes::BAD_REQUEST));
    };
    Ok(match sanitize_device_name(&request.device_name) {
        Some(name) => Observed::accept(json!({
            "node_id": request.node_id.to_string(),
            "device_name": name,
        })),
        None => error(400, error_codes::BAD_REQUEST),
    })
}

/// `pair_decision`: the server's registry (`anchor`, `records`), a well-formed
/// request (`node_id`, `device_name`) and whether its password was right
/// (`password_ok`). Valid: `expected = {"status": 200, "outcome": "register",
/// "name": ..}` or `{"status": 200, "outcome": "existing"}`; invalid:
/// `expected = {"status": n, "code": ".."}`.
pub(crate) fn pair_decision(case: &Case) -> Result<Observed, String> {
    let anchor = device_field(case, "anchor")?;
    let (registry, _) = build_registry(Some(anchor), &records_field(case)?);
    let node = device_field(case, "node_id")?;
    let name = case.str_field("device_name")?;
    let password_ok = case
        .field("password_ok")?
        .as_bool()
        .ok_or("field `password_ok` is not a boolean")?;
    Ok(match decide_pair(&registry, &node, name, password_ok) {
        PairDecision::WrongPassword => error(401, error_codes::WRONG_PASSWORD),
        PairDecision::BadName | PairDecision::IsAnchor => error(400, error_codes::BAD_REQUEST),
        PairDecision::Revoked => error(403, error_codes::REVOKED),
        PairDecision::AlreadyRegistered => Observed::accept(json!({"status": 200, "outcome": "existing"})),
        PairDecision::Register { name } => {
            Observed::accept(json!({"status": 200, "outcome": "register", "name": name}))
        }
    })
}

/// `auth_header`: an `Authorization` header value checked for `method` and
/// `path` at wall-clock `now_ms` (nonce replay and registration are the
/// server's). Valid: `expected = {"node_id", "ts_ms", "nonce", "signed_input"}`
/// (the exact signed bytes, hex); invalid: `expected = {"status": 401, "code": "unauthorized"}`.
pub(crate) fn auth_header(case: &Case) -> Result<Observed, String> {
    let header = case.str_field("header")?;
    let method = case.str_field("method")?;
    let path = case.str_field("path")?;
    let now_ms = case.u64_field("now_ms")?;
    let Ok(auth) = SignedAuth::parse(header) else {
        return Ok(error(401, error_codes::UNAUTHORIZED));
    };
    if auth.verify(method, path, now_ms).is_err() {
        return Ok(error(401, error_codes::UNAUTHORIZED));
    }
    let input = signed_request_input(method, path, auth.ts_ms, &auth.nonce);
    Ok(Observed::accept(json!({
        "node_id": auth.node_id.to_string(),
        "ts_ms": auth.ts_ms,
        "nonce": hex_text::encode(&auth.nonce),
        "signed_input": hex::encode(input),
    })))
}
