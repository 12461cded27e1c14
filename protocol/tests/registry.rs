//! Signed registry records: signing, verification, tampering, limits, keys
//! (HS-REG-1, HS-REG-2, HS-REG-3, HS-REG-5).

mod common;

use common::{anchor_key, device_key, id_of, varint};
use ed25519_dalek::{Signer, SigningKey};
use humansync_protocol::limits::{MAX_DEVICE_NAME_LEN, MAX_RECORD_LEN};
use humansync_protocol::registry::{REGISTRY_SIGNING_CONTEXT, RecordError, SignedRecord, signing_input};
use humansync_protocol::{DeviceId, RegistryRecord};

fn device_record(name: &str) -> RegistryRecord {
    RegistryRecord::Device {
        device: id_of(&device_key()),
        name: name.to_owned(),
        paired_at_ms: 1_763_000_000_000,
    }
}

fn revoked_record() -> RegistryRecord {
    RegistryRecord::Revoked {
        device: id_of(&device_key()),
        revoked_at_ms: 1_763_100_000_000,
    }
}

fn anchor() -> DeviceId {
    id_of(&anchor_key())
}

/// A record whose payload is `payload`, signed properly by the anchor (with the context).
fn sign_raw(payload: Vec<u8>) -> SignedRecord {
    let signature = anchor_key().sign(&signing_input(&payload)).to_bytes();
    SignedRecord { payload, signature }
}

#[test]
fn sign_verify_roundtrip_through_bytes() {
    // HS-REG-1, HS-REG-2: stored as postcard(SignedRecord), verified after decoding.
    for record in [device_record("laptop"), revoked_record()] {
        let signed = record.sign(&anchor_key()).expect("fits");
        let stored = signed.encode();
        let decoded = SignedRecord::decode(&stored).expect("decodes");
        assert_eq!(decoded, signed);
        assert_eq!(decoded.verify(&anchor()), Ok(record.clone()));
        assert_eq!(record.device(), id_of(&device_key()));
    }
}

#[test]
fn revoked_record_verifies() {
    // HS-REG-4
    let signed = revoked_record().sign(&anchor_key()).expect("fits");
    match signed.verify(&anchor()) {
        Ok(RegistryRecord::Revoked {
            device,
            revoked_at_ms,
        }) => {
            assert_eq!(device, id_of(&device_key()));
            assert_eq!(revoked_at_ms, 1_763_100_000_000);
        }
        other => panic!("expected a Revoked record, got {other:?}"),
    }
}

#[test]
fn signature_is_over_context_and_payload() {
    // HS-REG-1: signature = Ed25519(anchor, REGISTRY_SIGNING_CONTEXT || payload).
    let signed = device_record("laptop").sign(&anchor_key()).expect("fits");
    let mut input = REGISTRY_SIGNING_CONTEXT.to_vec();
    input.extend(&signed.payload);
    assert_eq!(signing_input(&signed.payload), input);
    assert!(anchor().verify(&input, &signed.signature));
    assert!(
        !anchor().verify(&signed.payload, &signed.signature),
        "the context is part of the input"
    );
}

#[test]
fn every_flipped_signature_bit_is_rejected() {
    // HS-REG-1, HS-REG-5: a forged signature never verifies.
    let signed = device_record("laptop").sign(&anchor_key()).expect("fits");
    let mut rejected = 0;
    for bit in 0..64 * 8 {
        let mut forged = signed.clone();
        forged.signature[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            forged.verify(&anchor()),
            Err(RecordError::BadSignature),
            "bit {bit}"
        );
        rejected += 1;
    }
    assert_eq!(rejected, 512);
}

#[test]
fn every_flipped_payload_bit_is_rejected() {
    // HS-REG-1: verified over the payload bytes exactly as received.
    let signed = device_record("laptop").sign(&anchor_key()).expect("fits");
    for bit in 0..signed.payload.len() * 8 {
        let mut forged = signed.clone();
        forged.payload[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            forged.verify(&anchor()),
            Err(RecordError::BadSignature),
            "bit {bit}"
        );
    }
}

#[test]
fn signed_by_another_key_is_rejected() {
    // HS-REG-5: a registered device cannot produce a valid record.
    let device_signed = device_record("me").sign(&device_key()).expect("fits");
    assert_eq!(device_signed.verify(&anchor()), Err(RecordError::BadSignature));
    let stranger = SigningKey::from_bytes(&[9u8; 32]);
    let signed = revoked_record().sign(&stranger).expect("fits");
    assert_eq!(signed.verify(&anchor()), Err(RecordError::BadSignature));
    assert!(
        signed.verify(&id_of(&stranger)).is_ok(),
        "it is valid under its own key"
    );
}

#[test]
fn signature_without_context_is_rejected() {
    // HS-REG-1: domain separation.
    let payload = postcard::to_allocvec(&revoked_record()).expect("encodes");
    let signature = anchor_key().sign(&payload).to_bytes();
    let record = SignedRecord { payload, signature };
    assert_eq!(record.verify(&anchor()), Err(RecordError::BadSignature));
}

#[test]
fn payload_with_trailing_bytes_is_malformed() {
    // HS-REG-1: the payload must decode fully, even under a good signature.
    let mut payload = revoked_record().sign(&anchor_key()).expect("fits").payload;
    payload.push(0x00);
    let record = sign_raw(payload);
    assert_eq!(record.verify(&anchor()), Err(RecordError::Malformed));
}

#[test]
fn undecodable_payloads_are_malformed() {
    // HS-REG-3: properly signed garbage is still ignored.
    let device = *id_of(&device_key()).as_bytes();
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x02],                                                       // unknown record variant
        [&[0x01][..], &device].concat(),                                  // Revoked without its timestamp
        [&[0x00][..], &device, &[0x02, 0xff, 0xfe], &varint(1)].concat(), // name not UTF-8
        [
            &[0x00][..],
            &device,
            &varint(MAX_DEVICE_NAME_LEN as u64 + 1),
            &[b'n'; MAX_DEVICE_NAME_LEN + 1],
            &varint(1),
        ]
        .concat(), // name over MAX_DEVICE_NAME_LEN
    ];
    for payload in cases {
        assert_eq!(
            sign_raw(payload.clone()).verify(&anchor()),
            Err(RecordError::Malformed),
            "{payload:02x?}"
        );
    }
    let at_limit = [
        &[0x00][..],
        &device,
        &varint(MAX_DEVICE_NAME_LEN as u64),
        &[b'n'; MAX_DEVICE_NAME_LEN],
        &varint(1),
    ]
    .concat();
    assert!(
        sign_raw(at_limit).verify(&anchor()).is_ok(),
        "a name of exactly MAX_DEVICE_NAME_LEN bytes"
    );
}

#[test]
fn oversized_payload_is_too_large() {
    // HS-REG-1: payload ≤ MAX_RECORD_LEN, checked before verifying.
    let record = sign_raw(vec![0u8; MAX_RECORD_LEN + 1]);
    assert_eq!(
        record.verify(&anchor()),
        Err(RecordError::TooLarge(MAX_RECORD_LEN + 1))
    );
    // The stored form cannot even carry it.
    assert_eq!(
        SignedRecord::decode(&record.encode()),
        Err(RecordError::Malformed)
    );
    // At the limit the length passes and the (zero) payload is judged on its content.
    let at_limit = sign_raw(vec![0u8; MAX_RECORD_LEN]);
    assert_eq!(SignedRecord::decode(&at_limit.encode()).as_ref(), Ok(&at_limit));
    assert_eq!(at_limit.verify(&anchor()), Err(RecordError::Malformed));
}

#[test]
fn largest_valid_record_fits_max_record_len() {
    // HS-REG-1: with the name bounded (HS-PAIR-4) every valid record fits MAX_RECORD_LEN.
    let largest = RegistryRecord::Device {
        device: id_of(&device_key()),
        name: "\u{10FFFF}".repeat(MAX_DEVICE_NAME_LEN / 4),
        paired_at_ms: u64::MAX,
    };
    let signed = largest.sign(&anchor_key()).expect("fits");
    assert_eq!(signed.payload.len(), 1 + 32 + 1 + MAX_DEVICE_NAME_LEN + 10);
    assert!(signed.payload.len() <= MAX_RECORD_LEN);
    // A name long enough to overflow the record is refused before that.
    let huge = device_record(&"n".repeat(MAX_RECORD_LEN));
    assert!(huge.sign(&anchor_key()).is_err());
}

#[test]
fn sign_refuses_a_name_readers_would_reject() {
    // HS-PAIR-4, HS-REG-1: a name over MAX_DEVICE_NAME_LEN fits MAX_RECORD_LEN but
    // fails every reader's decode, so signing it must fail too.
    let long = device_record(&"n".repeat(MAX_DEVICE_NAME_LEN + 1));
    assert_eq!(long.sign(&anchor_key()), Err(RecordError::Malformed));
    let at_limit = device_record(&"n".repeat(MAX_DEVICE_NAME_LEN));
    let signed = at_limit.sign(&anchor_key()).expect("at the limit");
    assert_eq!(signed.verify(&anchor()), Ok(at_limit));
}

#[test]
fn stored_record_rejects_trailing_bytes_and_truncation() {
    // HS-REG-3: the stored value decodes as exactly one SignedRecord.
    let stored = device_record("laptop")
        .sign(&anchor_key())
        .expect("fits")
        .encode();
    let mut trailing = stored.clone();
    trailing.push(0);
    assert_eq!(SignedRecord::decode(&trailing), Err(RecordError::Malformed));
    for len in 0..stored.len() {
        assert_eq!(
            SignedRecord::decode(&stored[..len]),
            Err(RecordError::Malformed),
            "prefix {len}"
        );
    }
    assert_eq!(
        stored.len(),
        1 + (1 + 32 + 1 + 6 + 6) + 64,
        "length byte, payload, signature"
    );
}

#[test]
fn key_is_lowercase_hex_blake3_of_the_stored_bytes() {
    // HS-REG-2
    let signed = device_record("laptop").sign(&anchor_key()).expect("fits");
    let key = signed.key();
    assert_eq!(key, hex::encode(blake3::hash(&signed.encode()).as_bytes()));
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    // Stable: signing is deterministic, so the same record always gets the same key.
    let again = device_record("laptop").sign(&anchor_key()).expect("fits");
    assert_eq!(again, signed);
    assert_eq!(again.key(), key);
    assert_eq!(
        SignedRecord::decode(&signed.encode()).expect("decodes").key(),
        key
    );
    // Different records get different keys.
    assert_ne!(
        device_record("phone").sign(&anchor_key()).expect("fits").key(),
        key
    );
    assert_ne!(revoked_record().sign(&anchor_key()).expect("fits").key(), key);
}
