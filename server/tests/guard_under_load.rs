//! Issue 16 §2 against a real server: the password guard holds under concurrency (an attempt in
//! flight counts as a failure), per-source limits come before global ones, requests without
//! credentials are never counted, and the owner's revocation stays reachable while the
//! unauthenticated pairing path is locked out. Sources are distinct 127.0.0.0/8 addresses.

mod support;

use humansync_protocol::http::SignedAuth;
use humansync_server::Overrides;
use reqwest::StatusCode;
use support::*;

#[tokio::test]
async fn concurrent_wrong_guesses_are_counted_before_they_are_answered() {
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path(), Overrides::default()).await;
    let base = url(&server, "");
    // 60 logins at once from 6 addresses, 10 each, all with a wrong password.
    let mut tasks = Vec::new();
    for source in 0..6u8 {
        let http = client_from(&format!("127.0.0.{}", 11 + source));
        for attempt in 0..10u8 {
            let (http, base) = (http.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                let device = key(100 + source * 10 + attempt);
                pair_start(&http, &base, &device, "guess", "wrong password")
                    .await
                    .map(|_| ())
            }));
        }
    }
    let mut accepted = 0;
    let mut limited = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => accepted += 1,
            Err((StatusCode::TOO_MANY_REQUESTS, code)) if code == "rate_limited" => limited += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    eprintln!("concurrent guesses: {accepted} of 60 reached a login, {limited} refused 429");
    // HS-PAIR-2: three failures per source before backoff, and every started login is a failure
    // until it finishes: at most 3 per source get a KE2 (an online guess), whatever the timing.
    assert!(accepted <= 18, "{accepted} guesses got through");
    assert_eq!(accepted + limited, 60);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_owner_can_revoke_while_strangers_keep_pairing_locked() {
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path(), Overrides::default()).await;
    let base = url(&server, "");
    let owner_http = client_from("127.0.0.2");
    let (laptop, stolen_phone) = (key(1), key(2));
    pair(&owner_http, &base, &laptop, "laptop", PASSWORD)
        .await
        .expect("laptop");
    pair(&owner_http, &base, &stolen_phone, "phone", PASSWORD)
        .await
        .expect("phone");
    // Requests without credentials are answered but never counted (HS-PAIR-2): 200 of them from
    // one address leave its budget untouched.
    let noisy = client_from("127.0.0.3");
    for _ in 0..200 {
        let r = noisy
            .delete(url(&server, &format!("/devices/{}", id(&stolen_phone))))
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    pair_start(&noisy, &base, &key(3), "n", "x")
        .await
        .expect("the noisy source may still log in");
    // 20 strangers, one wrong guess each: the global lockout (PAIR_LOCKOUT_FAILURES) is reached.
    for i in 0..20u8 {
        let http = client_from(&format!("127.0.1.{}", 10 + i));
        let _ = pair_start(&http, &base, &key(50 + i), "x", "guess").await;
    }
    let stranger = client_from("127.0.2.1");
    assert_eq!(
        pair_start(&stranger, &base, &key(90), "x", PASSWORD)
            .await
            .err()
            .map(|e| e.0),
        Some(StatusCode::TOO_MANY_REQUESTS),
        "unauthenticated pairing is locked out"
    );
    assert!(
        server
            .state()
            .guard
            .locked_until_ms(server.state().clock.now_ms())
            .is_some()
    );
    // HS-PAIR-7: the owner's laptop signs its revocation login: counted in its own budget, not locked.
    let revoked = revoke(
        &owner_http,
        &base,
        id(&stolen_phone),
        PASSWORD,
        Some((&laptop, now_ms())),
    )
    .await
    .expect("the owner's revocation goes through the lockout");
    assert_eq!(revoked.node_id, id(&stolen_phone));
    // The revoked phone can no longer use that path.
    assert_eq!(
        revoke(
            &owner_http,
            &base,
            id(&laptop),
            "guess",
            Some((&stolen_phone, now_ms()))
        )
        .await
        .err(),
        Some((StatusCode::FORBIDDEN, "revoked".into()))
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn one_device_cannot_fill_the_nonce_memory() {
    // HS-HTTP-3: a registered device flooding signed requests exhausts only its own share.
    use humansync_protocol::limits::MAX_NONCES_PER_DEVICE;
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path(), Overrides::default()).await;
    let http = client();
    let base = url(&server, "");
    let (flooder, other) = (key(1), key(2));
    pair(&http, &base, &flooder, "flooder", PASSWORD)
        .await
        .expect("paired");
    pair(&http, &base, &other, "other", PASSWORD)
        .await
        .expect("paired");
    let get = |key: &ed25519_dalek::SigningKey, nonce: [u8; 16]| {
        http.get(url(&server, "/devices"))
            .header(
                "authorization",
                SignedAuth::sign(key, "GET", "/devices", now_ms(), nonce).to_header(),
            )
            .send()
    };
    for i in 0..MAX_NONCES_PER_DEVICE as u32 {
        let mut nonce = [0u8; 16];
        nonce[..4].copy_from_slice(&i.to_le_bytes());
        assert_eq!(
            get(&flooder, nonce).await.expect("get").status(),
            StatusCode::OK,
            "request {i}"
        );
    }
    assert_eq!(
        get(&flooder, [0xff; 16]).await.expect("get").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        get(&other, [0xff; 16]).await.expect("get").status(),
        StatusCode::OK,
        "the others are not locked out"
    );
    server.shutdown().await.expect("shutdown");
}
