//! Golden encodings of signed registry records (HS-REG-1, HS-REG-2).

use crate::common::{anchor_key, device_key, varint};
use crate::dump::Dump;
use humansync_protocol::registry::{REGISTRY_SIGNING_CONTEXT, signing_input};
use humansync_protocol::{DeviceId, RegistryRecord};

/// The dump of a SignedRecord: length-prefixed payload (its fields nested), then the signature.
fn signed_record_dump(title: &str, payload: Dump, signature: &[u8; 64]) -> Dump {
    let len = payload.bytes().len();
    Dump::new(title)
        .field(
            &varint(len as u64),
            format_args!("payload: length {len} (varint)"),
        )
        .nested(payload)
        .field(
            &signature[..32],
            "signature[0..32] (Ed25519 R; 64 bytes, no length prefix)",
        )
        .field(&signature[32..], "signature[32..64] (Ed25519 s)")
}

#[test]
fn signed_record_device() {
    // HS-REG-1, HS-REG-2, HS-ID-1
    let device = DeviceId::from(&device_key());
    let paired_at_ms = 1_763_000_000_000u64;
    let record = RegistryRecord::Device {
        device,
        name: "Alice's laptop".into(),
        paired_at_ms,
    };
    let signed = record.sign(&anchor_key()).expect("fits MAX_RECORD_LEN");
    let anchor = DeviceId::from(&anchor_key());
    assert_eq!(signed.verify(&anchor).expect("verifies"), record);

    let payload = Dump::new("payload = postcard(RegistryRecord::Device), signed as these exact bytes")
        .field(&[0x00], "variant index 0 = Device")
        .field(
            device.as_bytes(),
            format_args!("device = {device} (32 raw bytes)"),
        )
        .field(&[0x0e], "name: length 14")
        .field(b"Alice's laptop", "name: UTF-8")
        .field(
            &varint(paired_at_ms),
            format_args!("paired_at_ms = {paired_at_ms} (varint u64)"),
        );
    assert_eq!(signed.payload, payload.bytes(), "payload dump");
    let mut text =
        signed_record_dump("SignedRecord (Device)", payload, &signed.signature).finish(&signed.encode());
    text.push_str(&format!("# anchor = {anchor}\n# key = {}\n", signed.key()));
    crate::snapshot("signed_record_device", &text);
}

#[test]
fn signed_record_revoked() {
    // HS-REG-1, HS-REG-4
    let device = DeviceId::from(&device_key());
    let revoked_at_ms = 1_763_100_000_000u64;
    let record = RegistryRecord::Revoked {
        device,
        revoked_at_ms,
    };
    let signed = record.sign(&anchor_key()).expect("fits MAX_RECORD_LEN");
    let anchor = DeviceId::from(&anchor_key());
    assert_eq!(signed.verify(&anchor).expect("verifies"), record);

    let payload = Dump::new("payload = postcard(RegistryRecord::Revoked)")
        .field(&[0x01], "variant index 1 = Revoked")
        .field(device.as_bytes(), format_args!("device = {device}"))
        .field(
            &varint(revoked_at_ms),
            format_args!("revoked_at_ms = {revoked_at_ms} (varint u64)"),
        );
    assert_eq!(signed.payload, payload.bytes(), "payload dump");
    let mut text =
        signed_record_dump("SignedRecord (Revoked)", payload, &signed.signature).finish(&signed.encode());
    text.push_str(&format!("# anchor = {anchor}\n# key = {}\n", signed.key()));
    crate::snapshot("signed_record_revoked", &text);
}

#[test]
fn registry_signing_input() {
    // HS-REG-1: the anchor signs context || payload.
    let record = RegistryRecord::Revoked {
        device: DeviceId::from(&device_key()),
        revoked_at_ms: 1,
    };
    let signed = record.sign(&anchor_key()).expect("fits");
    let dump = Dump::new("registry signing input")
        .field(
            REGISTRY_SIGNING_CONTEXT,
            "REGISTRY_SIGNING_CONTEXT \"humansync/registry/v1\\0\"",
        )
        .field(&signed.payload, "payload bytes exactly as stored");
    crate::snapshot(
        "registry_signing_input",
        &dump.finish(&signing_input(&signed.payload)),
    );
}
