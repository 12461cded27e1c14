//! Signed request headers (HS-HTTP-3).

use crate::common::{anchor_key, device_key, id_of, invalid_point};
use crate::{NONCE, TS};
use humansync_protocol::http::*;
use humansync_protocol::limits::HTTP_AUTH_WINDOW_MS;

fn signed() -> SignedAuth {
    SignedAuth::sign(&device_key(), "GET", "/devices", TS, NONCE)
}

fn malformed(header: &str) -> &'static str {
    match SignedAuth::parse(header) {
        Err(AuthError::Malformed(why)) => why,
        other => panic!("{header:?} must be Malformed, got {other:?}"),
    }
}

#[test]
fn signed_header_roundtrip_verifies() {
    // HS-HTTP-3
    let auth = signed();
    let header = auth.to_header();
    let parsed = SignedAuth::parse(&header).expect("parses");
    assert_eq!(parsed, auth);
    assert_eq!(parsed.node_id, id_of(&device_key()));
    assert_eq!(parsed.verify("GET", "/devices", TS), Ok(()));
    crate::snapshot("signed_auth_header", &header);
}

#[test]
fn signed_request_input_layout() {
    // HS-HTTP-3: context || METHOD \n PATH \n ts \n nonce-hex.
    let input = signed_request_input("GET", "/devices", TS, &NONCE);
    let expected = [
        &b"humansync/http/v1\0"[..],
        b"GET\n/devices\n1763000000000\n",
        b"11111111111111111111111111111111",
    ]
    .concat();
    assert_eq!(input, expected);
    assert_eq!(&input[..HTTP_SIGNING_CONTEXT.len()], HTTP_SIGNING_CONTEXT);
}

#[test]
fn uppercase_hex_header_parses_to_the_same_auth() {
    // HS-ID-2: parsers accept either case.
    let auth = signed();
    let header = auth.to_header();
    let (scheme, params) = header.split_once(' ').expect("scheme and params");
    let upper = format!(
        "{scheme} {}",
        params
            .to_uppercase()
            .replace("NODE_ID", "node_id")
            .replace("TS=", "ts=")
            .replace("NONCE", "nonce")
            .replace("SIG", "sig")
    );
    assert_ne!(upper, header);
    assert_eq!(SignedAuth::parse(&upper), Ok(auth));
}

#[test]
fn wrong_method_or_path_is_bad_signature() {
    // HS-HTTP-3: method and path are signed.
    let auth = signed();
    assert_eq!(auth.verify("POST", "/devices", TS), Err(AuthError::BadSignature));
    assert_eq!(auth.verify("get", "/devices", TS), Err(AuthError::BadSignature));
    assert_eq!(auth.verify("GET", "/devices/", TS), Err(AuthError::BadSignature));
    assert_eq!(auth.verify("GET", "/pair", TS), Err(AuthError::BadSignature));
    let delete = SignedAuth::sign(&device_key(), "DELETE", "/devices/abc", TS, NONCE);
    assert_eq!(delete.verify("DELETE", "/devices/abc", TS), Ok(()));
    assert_eq!(
        delete.verify("DELETE", "/devices/abd", TS),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn tampered_fields_are_bad_signature() {
    // HS-HTTP-3: ts, nonce and node_id are all covered by the signature.
    let auth = signed();
    let later = SignedAuth {
        ts_ms: TS + 1,
        ..auth.clone()
    };
    assert_eq!(later.verify("GET", "/devices", TS), Err(AuthError::BadSignature));
    let other_nonce = SignedAuth {
        nonce: [0x12; 16],
        ..auth.clone()
    };
    assert_eq!(
        other_nonce.verify("GET", "/devices", TS),
        Err(AuthError::BadSignature)
    );
    let other_device = SignedAuth {
        node_id: id_of(&anchor_key()),
        ..auth.clone()
    };
    assert_eq!(
        other_device.verify("GET", "/devices", TS),
        Err(AuthError::BadSignature)
    );
    for bit in [0, 7, 100, 511] {
        let mut forged = auth.clone();
        forged.signature[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            forged.verify("GET", "/devices", TS),
            Err(AuthError::BadSignature),
            "bit {bit}"
        );
    }
}

#[test]
fn timestamp_window() {
    // HS-HTTP-3: |now − ts| ≤ HTTP_AUTH_WINDOW_MS, both directions.
    let auth = signed();
    assert_eq!(auth.verify("GET", "/devices", TS + HTTP_AUTH_WINDOW_MS), Ok(()));
    assert_eq!(auth.verify("GET", "/devices", TS - HTTP_AUTH_WINDOW_MS), Ok(()));
    assert_eq!(
        auth.verify("GET", "/devices", TS + HTTP_AUTH_WINDOW_MS + 1),
        Err(AuthError::Stale)
    );
    assert_eq!(
        auth.verify("GET", "/devices", TS - HTTP_AUTH_WINDOW_MS - 1),
        Err(AuthError::Stale)
    );
    assert_eq!(auth.verify("GET", "/devices", 0), Err(AuthError::Stale));
    assert_eq!(auth.verify("GET", "/devices", u64::MAX), Err(AuthError::Stale));
    // Staleness is decided before the signature: a stale forgery is Stale.
    let mut forged = auth.clone();
    forged.signature[0] ^= 1;
    assert_eq!(forged.verify("GET", "/devices", 0), Err(AuthError::Stale));
    // Extreme timestamps do not overflow.
    let zero = SignedAuth::sign(&device_key(), "GET", "/devices", 0, NONCE);
    assert_eq!(zero.verify("GET", "/devices", 0), Ok(()));
    let max = SignedAuth::sign(&device_key(), "GET", "/devices", u64::MAX, NONCE);
    assert_eq!(SignedAuth::parse(&max.to_header()).as_ref(), Ok(&max));
    assert_eq!(max.verify("GET", "/devices", u64::MAX), Ok(()));
}

/// The header of [`signed`] with its parameters given as `(name, value)` pairs.
fn header_with(params: &[(&str, String)]) -> String {
    let body: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{HTTP_AUTH_SCHEME} {}", body.join(","))
}

fn good_params() -> Vec<(&'static str, String)> {
    let auth = signed();
    vec![
        ("node_id", auth.node_id.to_string()),
        ("ts", auth.ts_ms.to_string()),
        ("nonce", hex::encode(auth.nonce)),
        ("sig", hex::encode(auth.signature)),
    ]
}

#[test]
fn header_built_from_parts_parses() {
    // Control for the malformed cases below: the same builder yields a valid header,
    // in any parameter order and with spaces after commas.
    let params = good_params();
    assert_eq!(SignedAuth::parse(&header_with(&params)), Ok(signed()));
    let mut reversed = params.clone();
    reversed.reverse();
    assert_eq!(SignedAuth::parse(&header_with(&reversed)), Ok(signed()));
    let spaced = header_with(&params).replace(',', ", ");
    assert_eq!(SignedAuth::parse(&spaced), Ok(signed()));
}

#[test]
fn missing_parameter_is_malformed() {
    // HS-HTTP-3
    for (i, expected) in ["node_id missing", "ts missing", "nonce missing", "sig missing"]
        .into_iter()
        .enumerate()
    {
        let mut params = good_params();
        params.remove(i);
        assert_eq!(malformed(&header_with(&params)), expected);
    }
}

#[test]
fn repeated_parameter_is_malformed() {
    // HS-HTTP-3
    for i in 0..4 {
        let mut params = good_params();
        params.push(params[i].clone());
        assert_eq!(malformed(&header_with(&params)), "repeated parameter");
    }
}

#[test]
fn bad_values_are_malformed() {
    // HS-HTTP-3, HS-ID-1, HS-ID-2
    let with = |i: usize, value: String| {
        let mut params = good_params();
        params[i].1 = value;
        header_with(&params)
    };
    let node = good_params()[0].1.clone();
    assert_eq!(malformed(&with(0, node[..63].to_owned())), "node_id");
    assert_eq!(malformed(&with(0, format!("{node}0"))), "node_id");
    assert_eq!(malformed(&with(0, format!("g{}", &node[1..]))), "node_id");
    assert_eq!(malformed(&with(0, hex::encode(invalid_point()))), "node_id");
    assert_eq!(malformed(&with(1, String::new())), "ts");
    assert_eq!(malformed(&with(1, "-1".into())), "ts");
    assert_eq!(malformed(&with(1, "+1".into())), "ts");
    assert_eq!(malformed(&with(1, "1e3".into())), "ts");
    assert_eq!(malformed(&with(1, "18446744073709551616".into())), "ts"); // u64::MAX + 1
    assert_eq!(malformed(&with(1, "1".repeat(21))), "ts");
    assert_eq!(malformed(&with(2, "11".repeat(15))), "nonce");
    assert_eq!(malformed(&with(2, "zz".repeat(16))), "nonce");
    assert_eq!(malformed(&with(3, "00".repeat(63))), "sig");
    assert_eq!(malformed(&with(3, format!("{}x", "0".repeat(127)))), "sig");
}

#[test]
fn bad_shape_is_malformed() {
    // HS-HTTP-3
    let good = signed().to_header();
    let params = good.strip_prefix("HumanSync-Ed25519 ").expect("scheme");
    assert_eq!(malformed(&format!("Bearer {params}")), "scheme");
    assert_eq!(malformed(&format!("HumanSync-Ed25519{params}")), "scheme");
    assert_eq!(malformed(&format!("HumanSync-Ed25519\t{params}")), "scheme");
    assert_eq!(malformed(&format!("humansync-ed25519 {params}")), "scheme");
    assert_eq!(malformed(""), "scheme");
    assert_eq!(malformed("HumanSync-Ed25519 "), "parameter");
    assert_eq!(malformed(&format!("{good},")), "parameter");
    assert_eq!(malformed(&format!("{good},extra")), "parameter");
    assert_eq!(malformed(&format!("{good},extra=1")), "unknown parameter");
    assert_eq!(
        malformed(&good.replace("node_id=", "node_id =")),
        "unknown parameter"
    );
    assert_eq!(malformed(&good.replace(',', ";")), "ts missing");
}

#[test]
fn overlong_header_is_malformed() {
    // HS-HTTP-3: headers over 512 bytes are refused before parsing.
    let good = signed().to_header();
    let padded = format!("{good}{}", " ".repeat(512 - good.len()));
    assert_eq!(padded.len(), 512);
    assert_eq!(SignedAuth::parse(&padded), Ok(signed()), "512 bytes still parse");
    let long = format!("{padded} ");
    assert_eq!(malformed(&long), "header too long");
    assert_eq!(malformed(&"x".repeat(100_000)), "header too long");
}
