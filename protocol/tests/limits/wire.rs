//! Malformed encodings: trailing bytes, unknown variants, bad varints, huge
//! lengths, invalid points (HS-FRAME-3, HS-MSG-1, HS-MSG-2, HS-ID-1).

use crate::common::{anchor_key, doc, id_of, invalid_point, varint};
use crate::{CUSTOM, UNEXPECTED_END, assert_frame_malformed, assert_malformed, text};
use ed25519_dalek::Signer;
use humansync_protocol::registry::{RecordError, SignedRecord, signing_input};
use humansync_protocol::{DecodeError, Message};

#[test]
fn trailing_bytes_are_rejected() {
    // HS-FRAME-3: exactly one message per payload.
    let mut bytes = Message::DocMissing { doc: doc("a") }.encode().expect("valid");
    assert!(Message::decode(&bytes).is_ok());
    bytes.push(0x00);
    assert_eq!(Message::decode(&bytes), Err(DecodeError::TrailingBytes(1)));
    bytes.extend([1, 2, 3]);
    assert_eq!(Message::decode(&bytes), Err(DecodeError::TrailingBytes(4)));
    assert_frame_malformed(&bytes);
}

#[test]
fn unknown_variant_index_is_rejected() {
    // HS-MSG-1: 16 is unassigned (11..=14 are version 2's, 15 version 3's); 200..=255 are
    // private and never sent un-negotiated.
    assert_malformed(&[16], CUSTOM);
    assert_malformed(&[16, 0, 0, 0], CUSTOM);
    assert_malformed(&[0xc8, 0x01], CUSTOM); // varint 200
    assert_malformed(&[0xff, 0x01], CUSTOM); // varint 255
    assert_malformed(&[0xff, 0xff, 0xff, 0xff, 0x0f], CUSTOM); // u32::MAX
    // A variant index past u32 does not fit the enum discriminant.
    assert_malformed(&[0x80, 0x80, 0x80, 0x80, 0x10], "varint");
    assert_frame_malformed(&[16]);
    assert_frame_malformed(&[0xc8, 0x01]);
}

#[test]
fn overlong_varints_are_rejected() {
    // HS-FRAME-3: a varint longer than its type allows is malformed.
    // Close.code is a u32: at most 5 bytes, the fifth at most 0x0f.
    assert_malformed(&[0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00], "varint");
    assert_malformed(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00], "varint");
    // SetSummary.count (u32) in a Welcome.
    let mut welcome = vec![0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    welcome.extend([0u8; 32]);
    assert_malformed(&welcome, "varint");
    // Welcome.version is a u16: at most 3 bytes, the third at most 0x03.
    let mut version = vec![0x01, 0x80, 0x80, 0x80, 0x00, 0x00];
    version.extend([0u8; 32]);
    assert_malformed(&version, "varint");
    let mut version = vec![0x01, 0xff, 0xff, 0x04, 0x00];
    version.extend([0u8; 32]);
    assert_malformed(&version, "varint");
    // A length varint that does not terminate within a u64 (11 bytes).
    let mut reason = vec![0x0a, 0x00];
    reason.extend([0x80; 10]);
    reason.push(0x00);
    assert_malformed(&reason, "varint");
    // A length varint cut off by the end of the payload.
    assert_malformed(&[0x0a, 0x00, 0x80], UNEXPECTED_END);
}

#[test]
fn six_byte_length_varint_is_not_a_u32() {
    // A 6-byte varint names a length of at least 2^35 when canonical; the body is
    // never that long, so the message is rejected. (postcard reads lengths as
    // usize: see the report on non-minimal varints.)
    let mut reason = vec![0x0a, 0x00];
    reason.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    reason.extend(b"short");
    assert!(Message::decode(&reason).is_err());
}

#[test]
fn huge_announced_lengths_fail_without_allocating() {
    // HS-MSG-2: every length is checked against its bound or the remaining
    // input before allocating; the body here is a few bytes.
    for huge in [u32::MAX as u64, u64::MAX] {
        let len = varint(huge);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("Hello.versions", [&[0x00][..], &len, &[1, 2, 3]].concat()),
            ("Reconcile.ranges", [&[0x02][..], &len, &[0x01, 0x00]].concat()),
            ("Bound::Key", [&[0x02, 0x01, 0x00][..], &len, b"abc"].concat()),
            (
                "Items",
                [&[0x02, 0x01, 0x01, 0x02][..], &len, &[0x01, b'a']].concat(),
            ),
            ("DocSync.doc", [&[0x03][..], &len, b"abc"].concat()),
            (
                "DocSync.message",
                [&[0x03, 0x01, b'a'][..], &len, b"abc"].concat(),
            ),
            (
                "DocWhole.heads",
                [&[0x04, 0x01, b'a'][..], &len, &[0xc1; 32]].concat(),
            ),
            (
                "DocWhole.blobs",
                [&[0x04, 0x01, b'a', 0x00][..], &len, &[0xb1; 32]].concat(),
            ),
            (
                "DocWhole.bytes",
                [&[0x04, 0x01, b'a', 0x00, 0x00][..], &len, b"abc"].concat(),
            ),
            ("DocWant.docs", [&[0x05][..], &len, &[0x01, b'a']].concat()),
            ("DocMissing.doc", [&[0x06][..], &len, b"a"].concat()),
            ("DocDeleted.doc", [&[0x07][..], &len, b"a"].concat()),
            ("BlobWant.hashes", [&[0x08][..], &len, &[0xb1; 32]].concat()),
            ("BlobHave.hashes", [&[0x09][..], &len, &[0xb1; 32]].concat()),
            ("Close.reason", [&[0x0a, 0x00][..], &len, b"bye"].concat()),
        ];
        for (field, bytes) in cases {
            assert!(Message::decode(&bytes).is_err(), "{field} with length {huge}");
        }
        let record = [&len[..], &[0u8; 64]].concat();
        assert_eq!(
            SignedRecord::decode(&record),
            Err(RecordError::Malformed),
            "payload length {huge}"
        );
    }
}

#[test]
fn invalid_point_as_device_id_in_a_record() {
    // HS-ID-1: a receiver MUST reject 32 bytes that are not an Ed25519 point,
    // even under a valid anchor signature (HS-REG-1, HS-REG-3).
    let point = invalid_point();
    assert!(humansync_protocol::DeviceId::from_bytes(point).is_err());
    for variant in [0u8, 1] {
        let mut payload = vec![variant];
        payload.extend(point);
        if variant == 0 {
            payload.extend(text(b"phone"));
        }
        payload.extend(varint(1_700_000_000_000));
        let signature = anchor_key().sign(&signing_input(&payload)).to_bytes();
        let record = SignedRecord { payload, signature };
        let decoded = SignedRecord::decode(&record.encode()).expect("the outer record is well formed");
        assert_eq!(decoded.verify(&id_of(&anchor_key())), Err(RecordError::Malformed));
    }
}

#[test]
// HS-MSG-3: decoders SHOULD accept non-minimal varints (encoders emit minimal ones).
fn known_gap_non_minimal_varints_are_accepted() {
    // Known gap, recorded so a change is visible: postcard accepts non-minimal
    // varints (a value padded with 0x80 continuation bytes), so one message has
    // several encodings. Harmless for messages (never signed or hashed); a
    // registry payload is verified over its bytes as received (HS-REG-1).
    // SPEC.md should say whether receivers MUST reject these.
    let canonical = Message::decode(&[0x06, 0x01, b'a']).expect("canonical");
    assert_eq!(Message::decode(&[0x06, 0x81, 0x00, b'a']), Ok(canonical.clone()));
    // A 6-byte length varint holding 1: accepted where usize is 64 bits (postcard
    // reads lengths as usize), rejected on 32-bit targets.
    let six = [0x06, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, b'a'];
    if cfg!(target_pointer_width = "64") {
        assert_eq!(Message::decode(&six), Ok(canonical));
    } else {
        assert!(Message::decode(&six).is_err());
    }
    // The variant index too.
    assert_eq!(
        Message::decode(&[0x86, 0x00, 0x01, b'a']),
        Message::decode(&[0x06, 0x01, b'a'])
    );
}
