//! Registry view over signed records: verification (HS-REG-1), union and
//! revocation semantics (HS-REG-4), anchor rules (HS-ID-3) and the record cap.

mod registry_support;

use humansync_protocol::limits::MAX_REGISTRY_RECORDS;
use humansync_protocol::{RecordError, SignedRecord};
use humansync_sansio::registry::{DeviceStatus, Registry, RegistryChange, RegistryError};
use registry_support::*;

// HS-REG-1: a record signed by the anchor is accepted and registers the device.
#[test]
fn anchor_signed_device_record_is_accepted() {
    let mut reg = registry();
    assert_eq!(
        reg.insert(&device(1, "phone", 100)),
        Ok(Some(RegistryChange::Added(id(1))))
    );
    assert_eq!(
        reg.status(&id(1)),
        Some(&DeviceStatus {
            name: "phone".into(),
            paired_at_ms: 100,
            revoked_at_ms: None
        })
    );
    assert!(reg.is_admitted(&id(1)));
    assert!(reg.is_registered(&id(1)));
    assert!(!reg.is_revoked(&id(1)));
    assert_eq!(reg.record_count(), 1);
}

// HS-REG-1: one flipped signature bit → BadSignature, nothing stored.
#[test]
fn forged_signature_is_rejected() {
    let mut reg = registry();
    let mut forged = device(1, "phone", 100);
    forged.signature[5] ^= 0x01;
    assert_eq!(
        reg.insert(&forged),
        Err(RegistryError::Record(RecordError::BadSignature))
    );
    assert_eq!(reg.record_count(), 0);
    assert!(!reg.is_admitted(&id(1)));
}

// HS-REG-5: a record signed by any key other than the anchor's is rejected.
#[test]
fn record_signed_by_another_key_is_rejected() {
    let mut reg = registry();
    reg.insert(&device(1, "phone", 100)).expect("valid");
    // Device 1 is registered, and signs a record for a new device 2 with its own key.
    let self_signed = device_signed_by(&key(1), 2, "intruder", 200);
    assert_eq!(
        reg.insert(&self_signed),
        Err(RegistryError::Record(RecordError::BadSignature))
    );
    assert!(!reg.is_admitted(&id(2)));
    assert_eq!(reg.status(&id(2)), None);
}

// HS-REG-1: a payload that is not exactly one RegistryRecord is rejected even with a valid signature.
#[test]
fn valid_signature_over_garbage_payload_is_rejected() {
    use ed25519_dalek::Signer;
    let mut reg = registry();
    let mut payload = device(1, "phone", 100).payload;
    payload.push(0); // trailing byte
    let signature = anchor_key()
        .sign(&humansync_protocol::registry::signing_input(&payload))
        .to_bytes();
    let record = SignedRecord { payload, signature };
    assert_eq!(
        reg.insert(&record),
        Err(RegistryError::Record(RecordError::Malformed))
    );
    assert_eq!(reg.record_count(), 0);
}

// HS-GATE-2: an unpaired node verifies nothing.
#[test]
fn no_anchor_rejects_every_record() {
    let mut reg = Registry::new(None);
    assert_eq!(reg.insert(&device(1, "phone", 100)), Err(RegistryError::NoAnchor));
    assert_eq!(reg.record_count(), 0);
}

// HS-ID-3 / HS-PAIR-6: the anchor is set once and never changes.
#[test]
fn set_anchor_only_when_unset_or_equal() {
    let mut reg = Registry::new(None);
    assert_eq!(reg.set_anchor(anchor()), Ok(()));
    assert_eq!(reg.set_anchor(anchor()), Ok(()));
    assert_eq!(
        reg.set_anchor(id(7)),
        Err(RegistryError::AnchorMismatch {
            current: anchor(),
            requested: id(7)
        })
    );
    assert_eq!(reg.anchor(), Some(anchor()));
    assert_eq!(
        reg.insert(&device(1, "phone", 1)),
        Ok(Some(RegistryChange::Added(id(1))))
    );
}

// HS-REG-4: a record already held is a no-op.
#[test]
fn duplicate_record_is_ok_none() {
    let mut reg = registry();
    let rec = device(1, "phone", 100);
    assert!(reg.insert(&rec).expect("valid").is_some());
    assert_eq!(reg.insert(&rec), Ok(None));
    assert_eq!(reg.record_count(), 1);
}

// HS-REG-4: revocation wins whatever the order; the views are identical.
#[test]
fn revocation_then_device_equals_device_then_revocation() {
    let (dev, rev) = (device(1, "phone", 100), revoked(1, 500));

    let mut a = registry();
    assert_eq!(a.insert(&dev), Ok(Some(RegistryChange::Added(id(1)))));
    assert_eq!(a.insert(&rev), Ok(Some(RegistryChange::Revoked(id(1)))));

    let mut b = registry();
    assert_eq!(b.insert(&rev), Ok(Some(RegistryChange::Revoked(id(1)))));
    // A Device record for an already-revoked id changes nothing.
    assert_eq!(b.insert(&dev), Ok(None));

    assert_eq!(view(&a), view(&b));
    assert_eq!(
        b.status(&id(1)),
        Some(&DeviceStatus {
            name: "phone".into(),
            paired_at_ms: 100,
            revoked_at_ms: Some(500)
        })
    );
    assert!(!a.is_admitted(&id(1)));
    assert!(!b.is_admitted(&id(1)));
    assert_eq!(b.records_for(&id(1)).count(), 2);
}

// HS-REG-4: a revoked id is never re-admitted, not even by a later Device record.
#[test]
fn later_device_record_does_not_readmit_revoked_id() {
    let mut reg = registry();
    reg.insert(&device(1, "phone", 100)).expect("valid");
    reg.insert(&revoked(1, 500)).expect("valid");
    assert_eq!(reg.insert(&device(1, "phone again", 900)), Ok(None));
    assert!(!reg.is_admitted(&id(1)));
    assert_eq!(reg.status(&id(1)).and_then(|s| s.revoked_at_ms), Some(500));
}

// HS-REG-4: several Device/Revoked records for one id fold deterministically.
#[test]
fn multiple_records_for_one_id_fold_order_independently() {
    let records = [
        device(1, "b", 200),
        device(1, "a", 200),
        device(1, "z", 300),
        revoked(1, 900),
        revoked(1, 700),
    ];
    let mut forward = registry();
    let mut backward = registry();
    for r in &records {
        forward.insert(r).expect("valid");
    }
    for r in records.iter().rev() {
        backward.insert(r).expect("valid");
    }
    assert_eq!(view(&forward), view(&backward));
    assert_eq!(
        forward.status(&id(1)),
        Some(&DeviceStatus {
            name: "a".into(),
            paired_at_ms: 200,
            revoked_at_ms: Some(700)
        })
    );
}

// HS-GATE-2: the anchor is admitted without any record; others need a Device record.
#[test]
fn anchor_is_admitted_without_records() {
    let reg = registry();
    assert!(reg.is_admitted(&anchor()));
    assert!(!reg.is_admitted(&id(1)));
}

// MAX_REGISTRY_RECORDS caps the view; the next new record is refused with Full.
#[test]
// HS-REG-9
fn view_is_capped_at_max_registry_records() {
    let mut reg = registry();
    for i in 0..MAX_REGISTRY_RECORDS as u64 {
        let rec = humansync_protocol::RegistryRecord::Revoked {
            device: id(1),
            revoked_at_ms: i,
        }
        .sign(&anchor_key())
        .expect("signs");
        reg.insert(&rec).expect("under the cap");
    }
    assert_eq!(reg.record_count(), MAX_REGISTRY_RECORDS);
    assert_eq!(reg.insert(&device(2, "late", 1)), Err(RegistryError::Full));
    // A record already held is still a no-op, not an error.
    assert_eq!(reg.insert(&revoked(1, 0)), Ok(None));
    assert_eq!(reg.record_count(), MAX_REGISTRY_RECORDS);
    assert!(!reg.is_admitted(&id(2)));
}

// HS-REG-4: a full registry still takes the first revocation of a registered device.
#[test]
fn a_full_registry_still_accepts_a_revocation() {
    let mut reg = registry();
    reg.insert(&device(2, "phone", 1)).expect("registered");
    for i in 0..(MAX_REGISTRY_RECORDS as u64 - 1) {
        let rec = humansync_protocol::RegistryRecord::Revoked {
            device: id(1),
            revoked_at_ms: i,
        }
        .sign(&anchor_key())
        .expect("signs");
        reg.insert(&rec).expect("under the cap");
    }
    assert_eq!(reg.record_count(), MAX_REGISTRY_RECORDS);
    assert!(reg.is_admitted(&id(2)));
    assert_eq!(
        reg.insert(&revoked(2, 5)),
        Ok(Some(RegistryChange::Revoked(id(2))))
    );
    assert!(!reg.is_admitted(&id(2)));
    // A second revocation of the same device is refused again: the exemption is bounded.
    assert_eq!(reg.insert(&revoked(2, 6)), Err(RegistryError::Full));
}
