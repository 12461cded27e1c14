//! Invitation links and proofs, login contexts and the `HumanSync-OPAQUE` header (HS-INV-1,
//! HS-INV-3, HS-PAIR-11, HS-HTTP-4).

use humansync_protocol::DeviceId;
use humansync_protocol::invitation::{Invitation, LinkError, RedeemRequest, redeem_input};
use humansync_protocol::login::OpaqueAuth;
use humansync_sansio::pairing::pake::Context;
use serde_json::json;

use super::Observed;
use crate::format::Case;

fn refused(reason: &str) -> Observed {
    Observed::reject(json!({"refused": reason}))
}

fn device(case: &Case, name: &str) -> Result<DeviceId, String> {
    case.str_field(name)?
        .parse()
        .map_err(|_| format!("field `{name}` is not a device id"))
}

/// `invitation_link`: `link`. Valid: `{"url", "server", "key", "exp", "addrs", "id"}`.
pub(crate) fn invitation_link(case: &Case) -> Result<Observed, String> {
    Ok(match Invitation::parse(case.str_field("link")?) {
        Ok(inv) => Observed::accept(json!({
            "url": inv.url, "server": inv.server.to_string(), "key": hex::encode(inv.secret),
            "exp": inv.expires_at_ms, "addrs": inv.addrs, "id": inv.id().to_string(),
        })),
        Err(LinkError::TooLong) => refused("too_long"),
        Err(LinkError::Scheme) => refused("scheme"),
        Err(LinkError::Version) => refused("version"),
        Err(LinkError::Param(_)) => refused("param"),
    })
}

/// `invitation_redeem`: `request` (the JSON body) and `server`. Valid: `{"signed_input"}`.
pub(crate) fn invitation_redeem(case: &Case) -> Result<Observed, String> {
    let request: RedeemRequest = serde_json::from_value(case.field("request")?.clone())
        .map_err(|e| format!("field `request`: {e}"))?;
    let server = device(case, "server")?;
    Ok(if request.verify(&server) {
        let input = redeem_input(
            &server,
            &request.invitation,
            &request.node_id,
            &request.device_name,
        );
        Observed::accept(json!({"signed_input": hex::encode(input)}))
    } else {
        refused("signature")
    })
}

/// `login_context`: `purpose` (`pair` or `revoke`), `server`, `device` (and `device_name`).
pub(crate) fn login_context(case: &Case) -> Result<Observed, String> {
    let (server, device) = (device(case, "server")?, device(case, "device")?);
    let context = match case.str_field("purpose")? {
        "pair" => Context::pair(&server, &device, case.str_field("device_name")?),
        "revoke" => Context::revoke(&server, &device),
        other => return Err(format!("unknown purpose {other:?}")),
    };
    Ok(Observed::accept(
        json!({"context": hex::encode(context.as_bytes())}),
    ))
}

/// `opaque_auth_header`: `header`. Valid: `{"login_id", "ke3"}`.
pub(crate) fn opaque_auth_header(case: &Case) -> Result<Observed, String> {
    Ok(match OpaqueAuth::parse(case.str_field("header")?) {
        Some(auth) => {
            Observed::accept(json!({"login_id": auth.login_id.to_string(), "ke3": auth.ke3.to_string()}))
        }
        None => refused("malformed"),
    })
}
