//! registry.json, part 1: signed records, valid and invalid (HS-REG-1, HS-REG-3, HS-REG-5).

use ed25519_dalek::Signer;
use humansync_protocol::limits::{MAX_DEVICE_NAME_LEN, MAX_RECORD_LEN};
use humansync_protocol::{RegistryRecord, SignedRecord};
use serde_json::json;

use super::Cases;
use super::bytes::{cat, hx, lp, varint};
use super::registry::{T0, device, revoked, sign_payload, signed};
use crate::format::{Case, Expect};
use crate::{keys, repr};

fn record_case(c: &mut Cases, reqs: &[&str], what: &str, bytes: &[u8], reason: Option<&str>) {
    let anchor = keys::id("server");
    let result = if reason.is_some() {
        Expect::Invalid
    } else {
        Expect::Valid
    };
    let case = Case::new(String::new(), "signed_record", reqs, what, result)
        .with("input", hx(bytes))
        .with("anchor", anchor.to_string());
    c.push(match reason {
        Some(reason) => case.because(reason),
        None => match SignedRecord::decode(bytes).and_then(|r| r.verify(&anchor).map(|v| (r, v))) {
            Ok((r, v)) => case.expect(json!({"record": repr::record(&v), "key": r.key()})),
            Err(_) => case.because("generator_error"),
        },
    });
}

fn by_server(payload: Vec<u8>) -> SignedRecord {
    sign_payload(payload, &keys::key("server"))
}

/// Adds the signed_record cases.
pub(crate) fn add(c: &mut Cases) {
    let good = signed(&device("d1", T0), "server");
    let named = RegistryRecord::Device {
        device: keys::id("d3"),
        name: "Ünïcødé phone ✓".to_owned(),
        paired_at_ms: 0,
    };
    let max = RegistryRecord::Device {
        device: keys::id("d4"),
        name: "n".repeat(MAX_DEVICE_NAME_LEN),
        paired_at_ms: u64::from(u32::MAX),
    };
    let valid: [(&str, SignedRecord); 4] = [
        ("a Device record signed by the anchor", good.clone()),
        (
            "a Revoked record signed by the anchor",
            signed(&revoked("d2", T0 + 5), "server"),
        ),
        ("a Device record with a UTF-8 name", signed(&named, "server")),
        (
            "a Device record with a MAX_DEVICE_NAME_LEN (64) byte name",
            signed(&max, "server"),
        ),
    ];
    for (what, record) in valid {
        record_case(c, &["HS-REG-1"], what, &record.encode(), None);
    }

    let mut flipped = good.clone();
    flipped.signature[10] ^= 0x01;
    let mut edited = good.clone();
    let last = edited.payload.len() - 1;
    edited.payload[last] ^= 0x01;
    let context_free = SignedRecord {
        signature: keys::key("server").sign(&good.payload).to_bytes(),
        ..good.clone()
    };
    // HS-ID-5: S + L (the group order) satisfies the verification equation too; only the
    // canonical S < L is accepted.
    let mut malleable = good.clone();
    add_group_order(&mut malleable.signature[32..]);
    let forged: [(&str, SignedRecord); 6] = [
        ("the valid signature with S + L (non-canonical S)", malleable),
        ("one signature bit flipped", flipped),
        (
            "signed by the device itself, not the anchor",
            signed(&device("d1", T0), "d1"),
        ),
        (
            "signed by another server's key",
            signed(&device("d1", T0), "old-server"),
        ),
        ("payload edited after signing (paired_at_ms changed)", edited),
        ("signed without the REGISTRY_SIGNING_CONTEXT prefix", context_free),
    ];
    for (what, record) in forged {
        let reqs: &[&str] = if what.contains("non-canonical") {
            &["HS-REG-1", "HS-ID-5"]
        } else {
            &["HS-REG-1", "HS-REG-5"]
        };
        record_case(c, reqs, what, &record.encode(), Some("bad_signature"));
    }

    let d1 = keys::id("d1");
    let enc = good.encode();
    let r3: &[&str] = &["HS-REG-1", "HS-REG-3"];
    let broken: Vec<(&[&str], &str, Vec<u8>, &str)> = vec![
        (
            r3,
            "payload with a trailing byte, correctly signed",
            by_server(cat(&[&good.payload, &[0]])).encode(),
            "payload_trailing_bytes",
        ),
        (
            r3,
            "payload of MAX_RECORD_LEN + 1 (513) bytes, correctly signed",
            by_server(vec![0; MAX_RECORD_LEN + 1]).encode(),
            "payload_too_large",
        ),
        (
            &["HS-REG-1", "HS-ID-1"],
            "payload names a device id that is not a curve point",
            by_server(cat(&[&[0x00, 0x02], &[0; 31], &lp(b"x"), &varint(T0)])).encode(),
            "not_a_point",
        ),
        (
            &["HS-REG-1", "HS-PAIR-4"],
            "a Device name of MAX_DEVICE_NAME_LEN + 1 (65) bytes",
            by_server(cat(&[
                &[0x00],
                d1.as_bytes(),
                &lp(&[b'n'; MAX_DEVICE_NAME_LEN + 1]),
                &varint(T0),
            ]))
            .encode(),
            "name_too_long",
        ),
        (
            r3,
            "payload with unknown record variant 2",
            by_server(cat(&[&[0x02], d1.as_bytes(), &varint(T0)])).encode(),
            "unknown_variant",
        ),
        (
            r3,
            "a Device name that is not UTF-8",
            by_server(cat(&[&[0x00], d1.as_bytes(), &lp(&[0xff, 0xfe]), &varint(T0)])).encode(),
            "invalid_utf8",
        ),
        (
            r3,
            "SignedRecord cut inside the signature",
            enc[..enc.len() - 1].to_vec(),
            "truncated",
        ),
        (
            r3,
            "SignedRecord with a byte after the signature",
            cat(&[&enc, &[0]]),
            "trailing_bytes",
        ),
        (r3, "empty input", vec![], "truncated"),
    ];
    for (reqs, what, bytes, reason) in broken {
        record_case(c, reqs, what, &bytes, Some(reason));
    }
}

/// Adds the Ed25519 group order L (little-endian) to the 32-byte scalar `s` in place.
fn add_group_order(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
    ];
    let mut carry = 0u16;
    for (byte, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::registry::postcard_record;

    #[test]
    fn hand_built_payloads_verify_once_the_fault_is_fixed() {
        // HS-REG-1: the invalid record cases differ from a valid signed record by their fault alone.
        let server = keys::id("server");
        let ok = |payload: Vec<u8>| by_server(payload).verify(&server);
        let record = device("d1", T0);
        assert_eq!(ok(postcard_record(&record)), Ok(record.clone()));
        assert_eq!(
            signed(&record, "server"),
            record.sign(&keys::key("server")).expect("signs")
        );
        let d1 = keys::id("d1");
        assert!(ok(cat(&[&[0x00], d1.as_bytes(), &lp(b"x"), &varint(T0)])).is_ok());
        assert!(
            ok(cat(&[
                &[0x00],
                d1.as_bytes(),
                &lp(&[b'n'; MAX_DEVICE_NAME_LEN]),
                &varint(T0)
            ]))
            .is_ok()
        );
        assert!(ok(cat(&[&[0x01], d1.as_bytes(), &varint(T0)])).is_ok());
        assert!(ok(cat(&[&[0x00], d1.as_bytes(), &lp("é".as_bytes()), &varint(T0)])).is_ok());
    }
}
