//! Property tests: roundtrips, chunked framing, and no panic on any input
//! (HS-MSG-1, HS-MSG-2, HS-FRAME-1..3, HS-DOC-1, HS-ID-1, HS-ID-2, HS-REG-1, HS-HTTP-3).
//!
//! Runs from a fixed seed; set `PROPTEST_RNG_SEED` / `PROPTEST_CASES` to explore more.

mod common;
#[path = "props/strategies.rs"]
mod strategies;

use ed25519_dalek::SigningKey;
use proptest::collection::vec;
use proptest::prelude::*;

use humansync_protocol::http::{SignedAuth, sanitize_device_name};
use humansync_protocol::limits::MAX_DEVICE_NAME_LEN;
use humansync_protocol::registry::{RecordError, SignedRecord};
use humansync_protocol::{DeviceId, DeviceIdError, DocId, FrameDecoder, Message, encode_frame};
use strategies::{config, device_id, doc_id, doc_id_text, message, registry_record, signing_key};

/// Decodes `bytes`; if accepted, the message must re-encode and decode to itself.
fn decode_is_consistent(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(msg) = Message::decode(bytes) {
        let again = msg
            .encode()
            .map_err(|e| TestCaseError::fail(format!("accepted but not encodable: {e}")))?;
        prop_assert_eq!(Message::decode(&again), Ok(msg));
    }
    Ok(())
}

/// Feeds `chunks` to a fresh decoder, draining after each push, until it fails.
/// Returns the messages and whether it failed; checks the decoder's invariants on the way.
fn drive_decoder(chunks: &[Vec<u8>]) -> Result<(Vec<Message>, bool), TestCaseError> {
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    let mut pushed = 0usize;
    for chunk in chunks {
        decoder.push(chunk);
        pushed += chunk.len();
        prop_assert!(decoder.buffered() <= pushed);
        loop {
            match decoder.next_message() {
                Ok(Some(msg)) => out.push(msg),
                Ok(None) => break,
                Err(err) => {
                    // Failure is sticky and drops the buffer.
                    prop_assert_eq!(decoder.next_message(), Err(err));
                    prop_assert_eq!(decoder.buffered(), 0);
                    return Ok((out, true));
                }
            }
        }
    }
    prop_assert_eq!(decoder.frames_decoded(), out.len() as u64);
    Ok((out, false))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn message_roundtrip(msg in message()) {
        // HS-MSG-1: decode(encode(m)) == m, and the encoding is canonical for our own output.
        let bytes = msg.encode().expect("valid messages encode");
        prop_assert_eq!(Message::decode(&bytes), Ok(msg.clone()));
        prop_assert_eq!(Message::decode(&bytes).map(|m| m.encode()), Ok(Ok(bytes)));
    }

    #[test]
    fn frames_survive_any_chunking(
        msgs in vec(message(), 1..8),
        sizes in vec(1usize..64, 1..16),
    ) {
        // HS-FRAME-1: a byte stream cut anywhere yields the same messages in order.
        let stream: Vec<u8> = msgs
            .iter()
            .flat_map(|m| encode_frame(m).expect("valid messages frame"))
            .collect();
        let mut chunks = Vec::new();
        let mut rest = &stream[..];
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at((*size).min(rest.len()));
            chunks.push(head.to_vec());
            rest = tail;
        }
        let (out, failed) = drive_decoder(&chunks)?;
        prop_assert!(!failed);
        prop_assert_eq!(out, msgs);
    }

    #[test]
    fn truncated_messages_are_rejected(msg in message()) {
        // HS-FRAME-3: every strict prefix is an error, never a panic, never a message.
        let bytes = msg.encode().expect("valid");
        for len in 0..bytes.len() {
            prop_assert!(Message::decode(&bytes[..len]).is_err(), "prefix of {} bytes accepted", len);
        }
        // A truncated frame is just incomplete.
        let framed = encode_frame(&msg).expect("valid");
        let (out, failed) = drive_decoder(&[framed[..framed.len() - 1].to_vec()])?;
        prop_assert!(out.is_empty() && !failed);
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn bit_flips_never_panic(msg in message()) {
        // HS-FRAME-3: every single-bit flip decodes to Ok or Err; an accepted flip is a valid message.
        let bytes = msg.encode().expect("valid");
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            decode_is_consistent(&flipped)?;
            let mut framed = (flipped.len() as u32).to_be_bytes().to_vec();
            framed.extend(&flipped);
            drive_decoder(&[framed])?;
        }
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn arbitrary_bytes_never_panic_message_decode(
        variant in 0u8..=12,
        body in vec(any::<u8>(), 0..256),
    ) {
        // HS-FRAME-3, HS-MSG-2: a plausible variant byte first, to reach every field decoder.
        let bytes: Vec<u8> = std::iter::once(variant).chain(body.iter().copied()).collect();
        decode_is_consistent(&bytes)?;
        decode_is_consistent(&body)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_frame_decoder(chunks in vec(vec(any::<u8>(), 0..48), 0..8)) {
        // HS-FRAME-2, HS-FRAME-3
        drive_decoder(&chunks)?;
    }

    #[test]
    fn arbitrary_payloads_never_panic_frame_decoder(payload in vec(any::<u8>(), 1..128), split in 0usize..140) {
        // A well-formed header over arbitrary payload bytes, split at any point.
        let mut stream = (payload.len() as u32).to_be_bytes().to_vec();
        stream.extend(&payload);
        let split = split.min(stream.len());
        let (out, failed) = drive_decoder(&[stream[..split].to_vec(), stream[split..].to_vec()])?;
        prop_assert_eq!(out.len() + usize::from(failed), 1, "one frame, one verdict");
    }

    #[test]
    fn arbitrary_bytes_never_panic_signed_record(bytes in vec(any::<u8>(), 0..200), key in signing_key()) {
        // HS-REG-3: readers ignore garbage; decode and verify never panic.
        if let Ok(record) = SignedRecord::decode(&bytes) {
            prop_assert_eq!(SignedRecord::decode(&record.encode()), Ok(record.clone()));
            let _ = record.verify(&DeviceId::from(&key));
        }
        let raw = SignedRecord { payload: bytes, signature: [0x5a; 64] };
        prop_assert_eq!(raw.verify(&DeviceId::from(&key)).err(), Some(RecordError::BadSignature));
    }

    #[test]
    fn arbitrary_text_never_panics_parsers(text in "\\PC{0,80}", raw in vec(any::<u8>(), 0..600)) {
        // HS-HTTP-3, HS-DOC-1, HS-ID-2
        let lossy = String::from_utf8_lossy(&raw);
        for input in [text.as_str(), &lossy] {
            let _ = SignedAuth::parse(input);
            let _ = SignedAuth::parse(&format!("HumanSync-Ed25519 {input}"));
            let _ = DocId::new(input);
            let _ = input.parse::<DeviceId>();
        }
    }

    #[test]
    fn header_shaped_text_never_panics(
        params in vec(("(node_id|ts|nonce|sig|x)", "[0-9a-fA-F]{0,130}"), 0..6),
    ) {
        // HS-HTTP-3: near-valid headers exercise every parse branch.
        let body: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = SignedAuth::parse(&format!("HumanSync-Ed25519 {}", body.join(",")));
    }
}

/// An independent statement of HS-DOC-1 / HS-DOC-2 to compare [`DocId::new`] against.
fn doc_id_model(s: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._~-".contains(c);
    let segments: Vec<&str> = s.split('/').collect();
    let shape_ok = (1..=200).contains(&s.len())
        && segments
            .iter()
            .all(|seg| !seg.is_empty() && !seg.starts_with('.') && seg.chars().all(allowed));
    let reserved_ok = !s.starts_with('_') || s == "_devices" || s == "_settings";
    shape_ok && reserved_ok
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn doc_id_matches_the_model(s in "[a_./~é -]{0,8}|_(devices|settings|x)(/[a.]{0,2})?") {
        // HS-DOC-1, HS-DOC-2: strings dense in edge characters.
        prop_assert_eq!(DocId::new(s.as_str()).is_ok(), doc_id_model(&s), "{:?}", s);
    }

    #[test]
    fn generated_doc_ids_are_valid(s in doc_id_text()) {
        prop_assert!(doc_id_model(&s));
        let id = DocId::new(s.as_str()).expect("valid");
        prop_assert_eq!(id.as_str(), s.as_str());
        prop_assert_eq!(s.parse::<DocId>(), Ok(id));
    }

    #[test]
    fn device_id_text(hex in "[0-9a-fA-F]{64}") {
        // HS-ID-1, HS-ID-2: 64 hex chars parse, or fail only for not being a point.
        match hex.parse::<DeviceId>() {
            Ok(id) => prop_assert_eq!(id.to_string(), hex.to_lowercase()),
            Err(err) => prop_assert_eq!(err, DeviceIdError::NotAKey),
        }
    }

    #[test]
    fn device_id_roundtrip(id in device_id()) {
        // HS-ID-2: emitted lowercase, parsed in either case.
        let text = id.to_string();
        prop_assert_eq!(text.len(), 64);
        prop_assert_eq!(text.parse::<DeviceId>(), Ok(id));
        prop_assert_eq!(text.to_uppercase().parse::<DeviceId>(), Ok(id));
    }

    #[test]
    fn sanitized_names_obey_hs_pair_4(raw in "\\PC{0,40}|[ \t\n\u{0}-\u{1f}a-zé😀]{0,80}") {
        // HS-PAIR-4
        if let Some(name) = sanitize_device_name(&raw) {
            prop_assert!(!name.is_empty() && name.len() <= MAX_DEVICE_NAME_LEN);
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert_eq!(name.trim(), name.as_str());
            prop_assert_eq!(sanitize_device_name(&name), Some(name.clone()), "idempotent");
        } else {
            prop_assert!(raw.chars().all(|c| c.is_control() || c.is_whitespace()));
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn registry_sign_verify_roundtrip(record in registry_record(), anchor in signing_key(), other in signing_key()) {
        // HS-REG-1, HS-REG-2, HS-REG-5
        let signed = record.sign(&anchor).expect("valid records fit");
        let stored = signed.encode();
        let decoded = SignedRecord::decode(&stored).expect("decodes");
        prop_assert_eq!(decoded.verify(&DeviceId::from(&anchor)), Ok(record));
        prop_assert_eq!(decoded.key(), hex::encode(blake3::hash(&stored).as_bytes()));
        if other.to_bytes() != anchor.to_bytes() {
            prop_assert_eq!(decoded.verify(&DeviceId::from(&other)), Err(RecordError::BadSignature));
        }
    }

    #[test]
    fn signed_auth_roundtrip(
        key in signing_key(),
        method in "(GET|POST|DELETE)",
        path in "/[a-z0-9/]{0,40}",
        ts in any::<u64>(),
        nonce in any::<[u8; 16]>(),
    ) {
        // HS-HTTP-3
        let auth = SignedAuth::sign(&key, &method, &path, ts, nonce);
        let parsed = SignedAuth::parse(&auth.to_header()).expect("own header parses");
        prop_assert_eq!(&parsed, &auth);
        prop_assert_eq!(parsed.verify(&method, &path, ts), Ok(()));
        let other_path = format!("{path}x");
        prop_assert!(parsed.verify(&method, &other_path, ts).is_err());
    }
}

#[test]
fn strategies_cover_every_variant() {
    // The message strategy reaches all sixteen variants (HS-MSG-1).
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::new(config(1));
    let strategy = message();
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..2000 {
        kinds.insert(
            strategy
                .new_tree(&mut runner)
                .expect("generates")
                .current()
                .kind(),
        );
    }
    assert_eq!(kinds.len(), 16, "{kinds:?}");
    let _ = SigningKey::from_bytes(&[0; 32]);
    let _ = doc_id();
}
