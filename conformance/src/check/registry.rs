//! Signed registry records, the registry view and the admission gate
//! (HS-REG-1, HS-REG-4, HS-REG-5, HS-GATE-2).

use humansync_protocol::{DeviceId, SignedRecord};
use humansync_sansio::gate::{Admission, admit};
use humansync_sansio::registry::Registry;
use serde_json::{Value, json};

use super::Observed;
use crate::format::Case;
use crate::repr;

/// A device id field (64 hex).
pub(crate) fn device_field(case: &Case, name: &str) -> Result<DeviceId, String> {
    case.str_field(name)?
        .parse()
        .map_err(|e| format!("field `{name}` is not a device id: {e}"))
}

/// The `records` field: a list of hex postcard(SignedRecord) strings.
pub(crate) fn records_field(case: &Case) -> Result<Vec<Vec<u8>>, String> {
    case.field("records")?
        .as_array()
        .ok_or("field `records` is not a list")?
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| hex::decode(s).ok())
                .ok_or_else(|| "a record is not a hex string".to_owned())
        })
        .collect()
}

/// A registry trusting `anchor` holding every record of `records` that verifies;
/// also returns the indices of the ignored ones (HS-REG-3).
pub(crate) fn build_registry(anchor: Option<DeviceId>, records: &[Vec<u8>]) -> (Registry, Vec<usize>) {
    let mut registry = Registry::new(anchor);
    let mut ignored = Vec::new();
    for (i, bytes) in records.iter().enumerate() {
        let ok = SignedRecord::decode(bytes)
            .ok()
            .is_some_and(|r| registry.insert(&r).is_ok());
        if !ok {
            ignored.push(i);
        }
    }
    (registry, ignored)
}

/// `signed_record`: `input` is postcard(SignedRecord), `anchor` the registry
/// anchor. Valid: it decodes, verifies under the anchor and its payload decodes
/// exactly; `expected = {"record": <record>, "key": "<RecordKey>"}`.
pub(crate) fn signed_record(case: &Case) -> Result<Observed, String> {
    let input = case.hex_field("input")?;
    let anchor = device_field(case, "anchor")?;
    let Ok(signed) = SignedRecord::decode(&input) else {
        return Ok(Observed::reject(Value::Null));
    };
    Ok(match signed.verify(&anchor) {
        Ok(record) => Observed::accept(json!({"record": repr::record(&record), "key": signed.key()})),
        Err(_) => Observed::reject(Value::Null),
    })
}

/// `registry_view`: `anchor` and `records` (applied in list order). `expected =
/// {"admitted": [..], "revoked": [..], "ignored": [indices]}`, ids sorted.
pub(crate) fn view(case: &Case) -> Result<Observed, String> {
    let anchor = device_field(case, "anchor")?;
    let (registry, ignored) = build_registry(Some(anchor), &records_field(case)?);
    let mut admitted = Vec::new();
    let mut revoked = Vec::new();
    for (device, status) in registry.devices() {
        if status.revoked_at_ms.is_some() {
            revoked.push(device.to_string());
        } else if registry.is_registered(device) {
            admitted.push(device.to_string());
        }
    }
    Ok(Observed::accept(
        json!({"admitted": admitted, "revoked": revoked, "ignored": ignored}),
    ))
}

/// `admission`: `anchor` (or null for an unpaired node), `records`, `me` and
/// `peer`. `expected = {"verdict": "admit"}` or `{"verdict": "reject", "close_code": n}`.
pub(crate) fn admission(case: &Case) -> Result<Observed, String> {
    let anchor = match case.field("anchor")? {
        Value::Null => None,
        _ => Some(device_field(case, "anchor")?),
    };
    let (registry, _) = build_registry(anchor, &records_field(case)?);
    let me = device_field(case, "me")?;
    let peer = device_field(case, "peer")?;
    Ok(Observed::accept(match admit(&peer, &me, &registry) {
        Admission::Admit => json!({"verdict": "admit"}),
        Admission::Reject(code) => json!({"verdict": "reject", "close_code": code.0}),
    }))
}
