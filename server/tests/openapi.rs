//! server/openapi.yaml describes the routes the router serves and every error code (HS-HTTP-1).

use humansync_protocol::http::error_codes;

const OPENAPI: &str = include_str!("../openapi.yaml");

#[test]
fn openapi_lists_every_route_and_error_code() {
    for route in [
        "  /pair:\n    post:",
        "  /pair/start:\n    post:",
        "  /pair/finish:\n    post:",
        "  /devices:\n    get:",
        "  /devices/{node_id}/revoke/start:\n    post:",
        "  /devices/{node_id}:\n    delete:",
        "  /invitations:\n    post:",
        "  /invitations/redeem:\n    post:",
        "  /health:\n    get:",
        "  /metrics:\n    get:",
    ] {
        assert!(OPENAPI.contains(route), "openapi.yaml lacks {route:?}");
    }
    for code in [
        error_codes::BAD_REQUEST,
        error_codes::WRONG_PASSWORD,
        error_codes::UNAUTHORIZED,
        error_codes::REVOKED,
        error_codes::NOT_FOUND,
        error_codes::BODY_TOO_LARGE,
        error_codes::RATE_LIMITED,
        error_codes::INTERNAL,
        error_codes::UPGRADE_REQUIRED,
        error_codes::LOGIN_EXPIRED,
        error_codes::INVITATION_INVALID,
        error_codes::REQUEST_TIMEOUT,
    ] {
        assert!(
            OPENAPI.contains(&format!("'`{code}`'")),
            "openapi.yaml lacks the {code} response"
        );
    }
    for family in humansync_server::metrics::FAMILIES {
        assert!(
            OPENAPI.contains(family),
            "openapi.yaml does not describe the metric {family}"
        );
    }
    let limit = humansync_protocol::limits::MAX_HTTP_BODY.to_string();
    assert!(OPENAPI.contains(&limit), "openapi.yaml states MAX_HTTP_BODY");
    let window = humansync_protocol::limits::HTTP_AUTH_WINDOW_MS.to_string();
    assert!(
        OPENAPI.contains(&window),
        "openapi.yaml states HTTP_AUTH_WINDOW_MS"
    );
}
