//! pairing.json, part 2: the signed `Authorization` header of GET /devices (HS-HTTP-3).

use humansync_protocol::http::{SignedAuth, signed_request_input};
use humansync_protocol::limits::HTTP_AUTH_WINDOW_MS;
use serde_json::json;

use super::Cases;
use crate::format::{Case, Expect};
use crate::keys;

const TS: u64 = 1_700_000_000_000;
const H3: &[&str] = &["HS-HTTP-3"];

fn sign(who: &str, method: &str, path: &str, ts: u64) -> SignedAuth {
    SignedAuth::sign(&keys::key(who), method, path, ts, keys::bytes16("nonce"))
}

fn case(what: &str, header: &str, method: &str, path: &str, now_ms: u64, result: Expect) -> Case {
    Case::new(String::new(), "auth_header", H3, what, result)
        .with("header", header)
        .with("method", method)
        .with("path", path)
        .with("now_ms", now_ms)
}

fn valid(c: &mut Cases, what: &str, auth: &SignedAuth, now_ms: u64) {
    let input = signed_request_input("GET", "/devices", auth.ts_ms, &auth.nonce);
    c.push(
        case(what, &auth.to_header(), "GET", "/devices", now_ms, Expect::Valid).expect(json!({
            "node_id": auth.node_id.to_string(),
            "ts_ms": auth.ts_ms,
            "nonce": hex::encode(auth.nonce),
            "signed_input": hex::encode(input),
        })),
    );
}

fn refused(c: &mut Cases, what: &str, header: &str, method: &str, now_ms: u64, reason: &str) {
    c.push(
        case(what, header, method, "/devices", now_ms, Expect::Invalid)
            .because(reason)
            .expect(json!({"status": 401, "code": "unauthorized"})),
    );
}

/// Adds the auth_header cases.
pub(crate) fn add(c: &mut Cases) {
    let good = sign("d1", "GET", "/devices", TS);
    let header = good.to_header();
    valid(c, "a valid signature, now = ts", &good, TS);
    valid(
        c,
        "now = ts + HTTP_AUTH_WINDOW exactly",
        &good,
        TS + HTTP_AUTH_WINDOW_MS,
    );
    valid(
        c,
        "now = ts - HTTP_AUTH_WINDOW exactly (client clock ahead)",
        &good,
        TS - HTTP_AUTH_WINDOW_MS,
    );
    refused(
        c,
        "now = ts + HTTP_AUTH_WINDOW + 1 ms",
        &header,
        "GET",
        TS + HTTP_AUTH_WINDOW_MS + 1,
        "stale",
    );
    refused(
        c,
        "now = ts - HTTP_AUTH_WINDOW - 1 ms",
        &header,
        "GET",
        TS - HTTP_AUTH_WINDOW_MS - 1,
        "stale",
    );
    refused(
        c,
        "signed for GET, sent as DELETE",
        &header,
        "DELETE",
        TS,
        "bad_signature",
    );
    let other_path = sign("d1", "GET", "/devices/x", TS).to_header();
    refused(
        c,
        "signed for another path",
        &other_path,
        "GET",
        TS,
        "bad_signature",
    );
    let mut flipped = good.clone();
    flipped.signature[0] ^= 0x01;
    refused(
        c,
        "one signature bit flipped",
        &flipped.to_header(),
        "GET",
        TS,
        "bad_signature",
    );
    let mut borrowed = sign("d2", "GET", "/devices", TS);
    borrowed.node_id = keys::id("d1");
    refused(
        c,
        "signed by d2, claiming d1",
        &borrowed.to_header(),
        "GET",
        TS,
        "bad_signature",
    );
    // HS-ID-5: the identity point is a valid encoding of small order; with R = identity and
    // S = 0 the cofactorless equation holds for every message, so only a strict verifier
    // (small-order keys and R refused) turns it down.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    if let Ok(weak) = humansync_protocol::DeviceId::from_bytes(identity) {
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&identity);
        let forged = SignedAuth {
            node_id: weak,
            ts_ms: TS,
            nonce: good.nonce,
            signature,
        };
        c.push(
            Case::new(
                String::new(),
                "auth_header",
                &["HS-HTTP-3", "HS-ID-5"],
                "a small-order node_id (the identity point) with R = identity, S = 0: valid for any message under a non-strict verifier",
                Expect::Invalid,
            )
            .with("header", forged.to_header())
            .with("method", "GET")
            .with("path", "/devices")
            .with("now_ms", TS)
            .because("bad_signature")
            .expect(json!({"status": 401, "code": "unauthorized"})),
        );
    }
    let mut shifted = good.clone();
    shifted.ts_ms += 1;
    refused(
        c,
        "ts changed after signing",
        &shifted.to_header(),
        "GET",
        TS,
        "bad_signature",
    );

    let id = keys::id("d1").to_string();
    let ts = TS.to_string();
    let nonce = hex::encode(good.nonce);
    let sig = hex::encode(good.signature);
    let params = |node: &str, ts: &str, nonce: &str, sig: &str| {
        format!("HumanSync-Ed25519 node_id={node},ts={ts},nonce={nonce},sig={sig}")
    };
    let malformed: Vec<(&str, String)> = vec![
        ("an empty header", String::new()),
        (
            "another scheme",
            header.replacen("HumanSync-Ed25519", "Bearer", 1),
        ),
        (
            "the scheme in lower case",
            header.replacen("HumanSync-Ed25519", "humansync-ed25519", 1),
        ),
        (
            "sig missing",
            format!("HumanSync-Ed25519 node_id={id},ts={ts},nonce={nonce}"),
        ),
        ("ts given twice", format!("{header},ts={ts}")),
        ("an unknown parameter", format!("{header},v=1")),
        ("a parameter without '='", format!("{header},junk")),
        ("nonce of 30 hex characters", params(&id, &ts, &nonce[..30], &sig)),
        ("sig of 126 hex characters", params(&id, &ts, &nonce, &sig[..126])),
        (
            "node_id that is not a curve point",
            params(&format!("02{}", "00".repeat(31)), &ts, &nonce, &sig),
        ),
        ("ts negative", params(&id, "-1", &nonce, &sig)),
        ("ts with 21 digits", params(&id, &"9".repeat(21), &nonce, &sig)),
        (
            "ts over u64::MAX",
            params(&id, "18446744073709551616", &nonce, &sig),
        ),
        ("a header over 512 bytes", format!("{header},{}", "x".repeat(300))),
    ];
    for (what, h) in malformed {
        refused(c, &format!("malformed: {what}"), &h, "GET", TS, "malformed");
    }
    let upper = params(
        &id.to_uppercase(),
        &ts,
        &nonce.to_uppercase(),
        &sig.to_uppercase(),
    );
    c.push(
        case(
            "hex in upper case (the signed input uses the lowercase nonce)",
            &upper,
            "GET",
            "/devices",
            TS,
            Expect::Acceptable,
        )
        .because("case_of_hex"),
    );
    let padded = params(&id, &format!("00{ts}"), &nonce, &sig);
    c.push(
        case(
            "ts with leading zeros (the signed input uses the decimal without them)",
            &padded,
            "GET",
            "/devices",
            TS,
            Expect::Acceptable,
        )
        .because("non_canonical_ts"),
    );
    c.push(
        case(
            "a nonce replayed within the window is refused",
            &header,
            "GET",
            "/devices",
            TS,
            Expect::Invalid,
        )
        .requires("server")
        .because("replayed_nonce")
        .expect(json!({"status": 401, "code": "unauthorized"})),
    );
    let revoked = sign("d2", "GET", "/devices", TS).to_header();
    c.push(
        case(
            "a correctly signed request from a revoked device gets 403",
            &revoked,
            "GET",
            "/devices",
            TS,
            Expect::Invalid,
        )
        .requires("server")
        .because("revoked")
        .expect(json!({"status": 403, "code": "revoked"})),
    );
}
