//! `pairing_json`: the pairing API's JSON bodies, the signed-request header parser and the
//! device-name sanitiser on arbitrary input (HS-HTTP-1 .. HS-HTTP-5, HS-PAIR-4).
//!
//! Checked: no panic; every body that parses serialises and parses back to itself; a header
//! that parses prints (`to_header`) to a header that parses to the same value; a sanitised
//! name is non-empty, at most `MAX_DEVICE_NAME_LEN` bytes, free of control characters,
//! trimmed, and sanitises to itself.

use humansync_protocol::http::{
    DeviceInfo, DevicesResponse, ErrorBody, HealthResponse, PairRequest, PairResponse, RevokeResponse,
    SignedAuth, sanitize_device_name,
};
use humansync_protocol::limits::MAX_DEVICE_NAME_LEN;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Runs one input.
pub fn run(data: &[u8]) {
    json::<PairRequest>(data);
    json::<PairResponse>(data);
    json::<DeviceInfo>(data);
    json::<DevicesResponse>(data);
    json::<RevokeResponse>(data);
    json::<HealthResponse>(data);
    json::<ErrorBody>(data);
    let text = String::from_utf8_lossy(data);
    header(&text);
    name(&text);
}

fn json<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let text = serde_json::to_vec(&value).expect("a parsed body serialises");
    let again: T = serde_json::from_slice(&text).expect("a serialised body parses");
    assert_eq!(again, value);
}

fn header(text: &str) {
    let Ok(auth) = SignedAuth::parse(text) else {
        return;
    };
    let printed = auth.to_header();
    assert_eq!(SignedAuth::parse(&printed).as_ref(), Ok(&auth), "{printed}");
    // Verification never panics, whatever the time.
    let _ = auth.verify("GET", "/devices", auth.ts_ms);
    let _ = auth.verify("GET", "/devices", u64::MAX);
}

fn name(text: &str) {
    let Some(name) = sanitize_device_name(text) else {
        return;
    };
    assert!(!name.is_empty());
    assert!(
        name.len() <= MAX_DEVICE_NAME_LEN,
        "HS-PAIR-4: {} bytes",
        name.len()
    );
    assert!(
        !name.chars().any(char::is_control),
        "HS-PAIR-4: control character kept"
    );
    assert_eq!(name.trim(), name, "HS-PAIR-4: not trimmed");
    assert_eq!(
        sanitize_device_name(&name).as_deref(),
        Some(name.as_str()),
        "not idempotent"
    );
}
