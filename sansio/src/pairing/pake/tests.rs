//! OPAQUE logins end to end, with fixed randomness.

use humansync_protocol::DeviceId;

use super::*;

fn rng(seed: u8) -> PakeRng {
    PakeRng::from_seed([seed; 32])
}

fn id(seed: u8) -> DeviceId {
    DeviceId::from(&ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

#[test]
fn a_login_with_the_right_password_and_context_agrees_on_a_key() {
    let keys = ServerKeys::generate(&mut rng(1));
    let record = PasswordRecord::register(&keys, b"hunter2", &mut rng(2)).expect("register");
    let context = Context::pair(&id(9), &id(3), "laptop");
    let (ke1, client) = ClientStart::start(b"hunter2", &mut rng(4)).expect("start");
    assert_eq!(ke1.len(), KE1_LEN);
    let (ke2, server) = ServerStart::start(&keys, &record, &ke1, &context, &mut rng(5)).expect("ke2");
    assert_eq!(ke2.len(), KE2_LEN);
    let (ke3, client_key) = client
        .finish(b"hunter2", &ke2, &context, &mut rng(6))
        .expect("ke3");
    assert_eq!(ke3.len(), KE3_LEN);
    let server_key = server.finish(&ke3, &context).expect("finish");
    assert_eq!(client_key, server_key);
    let mac = server_key.answer_mac(b"answer");
    assert!(client_key.verify_answer_mac(b"answer", &mac));
    assert!(!client_key.verify_answer_mac(b"answes", &mac));
    // Stored forms round-trip.
    let keys2 = ServerKeys::from_bytes(&keys.to_bytes()).expect("keys");
    let record2 = PasswordRecord::from_bytes(&record.to_bytes()).expect("record");
    assert!(record2.matches(&keys2, b"hunter2", &mut rng(7)));
    assert!(!record2.matches(&keys2, b"hunter3", &mut rng(8)));
}

#[test]
fn a_wrong_password_or_an_altered_context_fails_on_the_device() {
    let keys = ServerKeys::generate(&mut rng(1));
    let record = PasswordRecord::register(&keys, b"hunter2", &mut rng(2)).expect("register");
    let context = Context::pair(&id(9), &id(3), "laptop");
    let (ke1, client) = ClientStart::start(b"hunter3", &mut rng(4)).expect("start");
    let (ke2, _) = ServerStart::start(&keys, &record, &ke1, &context, &mut rng(5)).expect("ke2");
    assert_eq!(
        client.finish(b"hunter3", &ke2, &context, &mut rng(6)).err(),
        Some(PakeError::LoginFailed)
    );
    // The right password, but a man in the middle told the device another server id.
    let (ke1, client) = ClientStart::start(b"hunter2", &mut rng(4)).expect("start");
    let (ke2, _) = ServerStart::start(&keys, &record, &ke1, &context, &mut rng(5)).expect("ke2");
    let forged = Context::pair(&id(10), &id(3), "laptop");
    assert_eq!(
        client.finish(b"hunter2", &ke2, &forged, &mut rng(6)).err(),
        Some(PakeError::LoginFailed)
    );
}

#[test]
fn malformed_messages_are_refused_without_panicking() {
    let keys = ServerKeys::generate(&mut rng(1));
    let record = PasswordRecord::register(&keys, b"pw", &mut rng(2)).expect("register");
    let context = Context::revoke(&id(9), &id(3));
    for ke1 in [
        vec![],
        vec![0; KE1_LEN - 1],
        vec![0xff; KE1_LEN],
        vec![0; KE1_LEN + 1],
    ] {
        assert!(matches!(
            ServerStart::start(&keys, &record, &ke1, &context, &mut rng(5)),
            Err(PakeError::Malformed(_))
        ));
    }
    let (ke1, client) = ClientStart::start(b"pw", &mut rng(4)).expect("start");
    let (_, server) = ServerStart::start(&keys, &record, &ke1, &context, &mut rng(5)).expect("ke2");
    assert!(matches!(
        server.finish(&[0; KE3_LEN], &context),
        Err(PakeError::LoginFailed)
    ));
    assert!(
        client
            .finish(b"pw", &[0xff; KE2_LEN], &context, &mut rng(6))
            .is_err()
    );
    assert!(ServerKeys::from_bytes(b"short").is_err());
    assert!(PasswordRecord::from_bytes(b"short").is_err());
}
