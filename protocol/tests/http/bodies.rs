//! JSON bodies of the pairing API (HS-HTTP-1 .. HS-HTTP-5).

use crate::TS;
use crate::common::{anchor_key, device_key, id_of, invalid_point};
use ed25519_dalek::SigningKey;
use humansync_protocol::RegistryRecord;
use humansync_protocol::http::*;

fn pair_request() -> PairRequest {
    PairRequest {
        node_id: id_of(&device_key()),
        password: "correct horse".into(),
        device_name: "Alice's laptop".into(),
    }
}

#[test]
fn pair_request_json_roundtrip() {
    // HS-HTTP-2: node_id is a 64-char lowercase hex string (HS-ID-2).
    let req = pair_request();
    let json = serde_json::to_string(&req).expect("serialises");
    let node = id_of(&device_key()).to_string();
    assert_eq!(node.len(), 64);
    assert_eq!(
        json,
        format!(r#"{{"node_id":"{node}","password":"correct horse","device_name":"Alice's laptop"}}"#)
    );
    assert_eq!(serde_json::from_str::<PairRequest>(&json).expect("parses"), req);
    // Uppercase is accepted and normalised.
    let upper = json.replace(&node, &node.to_uppercase());
    let parsed: PairRequest = serde_json::from_str(&upper).expect("uppercase parses");
    assert_eq!(parsed, req);
    assert_eq!(serde_json::to_string(&parsed).expect("serialises"), json);
}

#[test]
fn pair_request_rejects_unknown_fields_and_bad_ids() {
    // HS-HTTP-2: 400 bad_request for bad JSON or a bad node id.
    let node = id_of(&device_key()).to_string();
    let body = |node_id: &str, extra: &str| {
        format!(r#"{{"node_id":{node_id},"password":"p","device_name":"d"{extra}}}"#)
    };
    assert!(
        serde_json::from_str::<PairRequest>(&body(&format!("\"{node}\""), "")).is_ok(),
        "control"
    );
    assert!(serde_json::from_str::<PairRequest>(&body(&format!("\"{node}\""), r#","admin":true"#)).is_err());
    let bad_ids = [
        format!("\"{}\"", &node[..62]),
        format!("\"{node}00\""),
        format!("\"{}zz\"", &node[..62]),
        format!("\"{}\"", hex::encode(invalid_point())),
        "\"\"".to_owned(),
        "null".to_owned(),
        "42".to_owned(),
        format!("{:?}", id_of(&device_key()).as_bytes().to_vec()),
    ];
    for id in bad_ids {
        assert!(
            serde_json::from_str::<PairRequest>(&body(&id, "")).is_err(),
            "{id}"
        );
    }
    assert!(serde_json::from_str::<PairRequest>(r#"{"node_id":"x"}"#).is_err());
    assert!(
        serde_json::from_str::<PairRequest>(&format!(r#"{{"node_id":"{node}","password":"p"}}"#)).is_err()
    );
}

/// Pretty JSON of a body, after checking that it parses back to the same value.
fn json<T>(body: &T) -> String
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let compact = serde_json::to_string(body).expect("serialises");
    assert_eq!(&serde_json::from_str::<T>(&compact).expect("parses back"), body);
    serde_json::to_string_pretty(body).expect("serialises")
}

fn devices() -> Vec<DeviceInfo> {
    vec![
        DeviceInfo {
            node_id: id_of(&device_key()),
            name: "Alice's laptop".into(),
            paired_at_ms: TS,
            revoked_at_ms: None,
            addrs: vec!["192.168.1.20:41641".into(), "[fd00::20]:41641".into()],
        },
        DeviceInfo {
            node_id: id_of(&SigningKey::from_bytes(&[9u8; 32])),
            name: "old phone".into(),
            paired_at_ms: TS - 86_400_000,
            revoked_at_ms: Some(TS + 1),
            addrs: vec![],
        },
    ]
}

fn revoke_record_hex() -> String {
    let record = RegistryRecord::Revoked {
        device: id_of(&SigningKey::from_bytes(&[9u8; 32])),
        revoked_at_ms: TS + 1,
    };
    hex::encode(record.sign(&anchor_key()).expect("fits").encode())
}

#[test]
fn json_snapshot_pair_request() {
    // HS-HTTP-2
    crate::snapshot("pair_request", &json(&pair_request()));
}

#[test]
fn json_snapshot_pair_response() {
    // HS-HTTP-2, HS-PAIR-6
    let device = RegistryRecord::Device {
        device: id_of(&device_key()),
        name: "Alice's laptop".into(),
        paired_at_ms: TS,
    };
    let body = PairResponse {
        server_node_id: id_of(&anchor_key()),
        server_addrs: vec!["203.0.113.7:4433".into()],
        relay_url: Some("https://relay.example.org./".into()),
        devices: devices(),
        records: vec![
            hex::encode(device.sign(&anchor_key()).expect("fits").encode()),
            revoke_record_hex(),
        ],
    };
    crate::snapshot("pair_response", &json(&body));
    let no_relay = PairResponse {
        relay_url: None,
        ..body
    };
    assert!(json(&no_relay).contains("\"relay_url\": null"));
}

#[test]
fn json_snapshot_devices_response() {
    // HS-HTTP-3
    crate::snapshot("devices_response", &json(&DevicesResponse { devices: devices() }));
}

#[test]
fn json_snapshot_revoke_response() {
    // HS-HTTP-4
    let body = RevokeResponse {
        node_id: id_of(&SigningKey::from_bytes(&[9u8; 32])),
        revoked_at_ms: TS + 1,
        record: revoke_record_hex(),
    };
    crate::snapshot("revoke_response", &json(&body));
}

#[test]
fn json_snapshot_health_response() {
    // HS-HTTP-5
    let body = HealthResponse {
        status: "ok".into(),
        node_id: id_of(&anchor_key()),
        version: "0.1.0".into(),
        api_version: Some(2),
    };
    crate::snapshot("health_response", &json(&body));
}

#[test]
fn json_snapshot_error_body() {
    // HS-HTTP-1: {"error":{"code":..,"message":..}}
    let body = ErrorBody {
        error: ErrorDetail {
            code: error_codes::RATE_LIMITED.into(),
            message: "too many pairing attempts; retry later".into(),
            record: None,
        },
    };
    assert_eq!(
        serde_json::to_string(&body).expect("serialises"),
        r#"{"error":{"code":"rate_limited","message":"too many pairing attempts; retry later"}}"#
    );
    crate::snapshot("error_body", &json(&body));
}

#[test]
fn error_codes_are_snake_case() {
    // HS-HTTP-1
    let codes = [
        error_codes::BAD_REQUEST,
        error_codes::WRONG_PASSWORD,
        error_codes::UNAUTHORIZED,
        error_codes::REVOKED,
        error_codes::NOT_FOUND,
        error_codes::BODY_TOO_LARGE,
        error_codes::RATE_LIMITED,
        error_codes::INTERNAL,
    ];
    for code in codes {
        assert!(
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code}"
        );
    }
    let mut unique = codes.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), codes.len());
}
