//! `registry_record`: [`SignedRecord::decode`] and `verify` against the fixture's anchor
//! (HS-REG-1), and the bare payload decoder.
//!
//! Checked: no panic; a decoded record (and payload) re-encodes to the same value; a record that verifies under
//! the anchor never verifies under another key, respects the name bound, and inserted into a
//! registry holding a revocation never lifts it (HS-REG-4).

use humansync_protocol::limits::{MAX_DEVICE_NAME_LEN, MAX_RECORD_LEN};
use humansync_protocol::{DeviceId, RegistryRecord, SignedRecord};

use crate::fixture::fixture;

/// Runs one input.
pub fn run(data: &[u8]) {
    payload(data);
    let Ok(record) = SignedRecord::decode(data) else {
        return;
    };
    assert!(record.payload.len() <= MAX_RECORD_LEN);
    assert_eq!(SignedRecord::decode(&record.encode()).as_ref(), Ok(&record));
    assert_eq!(record.key().len(), 64);
    let fx = fixture();
    let verified = record.verify(&fx.anchor_id());
    assert!(record.verify(&DeviceId::from(&fx.me)).is_err() || verified.is_err());
    let Ok(parsed) = verified else {
        return;
    };
    if let RegistryRecord::Device { name, .. } = &parsed {
        assert!(name.len() <= MAX_DEVICE_NAME_LEN);
    }
    let mut registry = fx.base_registry();
    let revoked = DeviceId::from(&fx.revoked);
    registry.insert(&record).expect("a verified record inserts");
    assert!(
        registry.is_revoked(&revoked),
        "HS-REG-4: a record lifted a revocation"
    );
    assert!(!registry.is_admitted(&revoked));
}

/// The payload decoder alone (what `verify` runs after the signature check).
fn payload(data: &[u8]) {
    let Ok((record, rest)) = postcard::take_from_bytes::<RegistryRecord>(data) else {
        return;
    };
    if let RegistryRecord::Device { name, .. } = &record {
        assert!(
            name.len() <= MAX_DEVICE_NAME_LEN,
            "HS-PAIR-4: name over the bound decoded"
        );
    }
    // postcard accepts overlong varints, so the bytes need not be canonical (signatures cover
    // the bytes as received, HS-REG-1); the value must survive a round trip.
    let _ = rest;
    let encoded = postcard::to_allocvec(&record).expect("a decoded record re-encodes");
    let again: RegistryRecord = postcard::from_bytes(&encoded).expect("a re-encoded record decodes");
    assert_eq!(again, record);
}
