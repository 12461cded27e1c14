//! HS-PAIR-3: every pairing and revocation attempt is logged with the claimed id, the source
//! and the outcome, and neither the password nor the Authorization header ever is.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use humansync_server::Overrides;
use reqwest::StatusCode;
use support::*;

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn attempts_are_logged_without_secrets() {
    let log = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .init();
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path(), Overrides::default()).await;
    let http = client();
    let base = url(&server, "");
    let laptop = id(&key(1));
    let wrong = "a-wrong-password-that-must-not-be-logged";
    // A wrong password: the login starts (logged), the device cannot finish it.
    assert!(pair(&http, &base, &key(1), "laptop", wrong).await.is_err());
    pair(&http, &base, &key(1), "laptop", PASSWORD)
        .await
        .expect("paired");
    // A forged KE3 for a revocation login: refused and logged.
    let (mut auth, _) = revoke_login(&http, &base, laptop, PASSWORD, None)
        .await
        .expect("login");
    auth.ke3.0[0] ^= 1;
    let target = url(&server, &format!("/devices/{laptop}"));
    let r = http
        .delete(&target)
        .header("authorization", auth.to_header())
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    revoke(&http, &base, laptop, PASSWORD, None)
        .await
        .expect("revoked");
    // Issue 16 §3: a path that is not an id (here with a line break) is logged as `-`.
    let r = http
        .delete(url(&server, "/devices/x%0a2026-01-01T00:00:00Z%20INFO%20forged"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await.expect("shutdown");

    let text =
        String::from_utf8(log.0.lock().unwrap_or_else(PoisonError::into_inner).clone()).expect("utf-8");
    let audit: Vec<&str> = text.lines().filter(|l| l.contains("humansync::audit")).collect();
    let expected = [
        ("pair_start", "ok"),
        ("pair_start", "ok"),
        ("pair", "ok"),
        ("revoke_start", "ok"),
        ("revoke", "refused"),
        ("revoke_start", "ok"),
        ("revoke", "ok"),
        ("revoke", "refused"),
    ];
    assert_eq!(audit.len(), expected.len(), "one line per attempt:\n{text}");
    for (line, (action, outcome)) in audit.iter().zip(expected) {
        assert!(line.contains(&format!("action=\"{action}\"")), "{line}");
        assert!(line.contains(&format!("outcome=\"{outcome}\"")), "{line}");
        assert!(line.contains("source=127.0.0.1:"), "{line}");
    }
    for line in &audit[..7] {
        assert!(line.contains(&format!("node_id={laptop}")), "{line}");
    }
    assert!(audit[4].contains("code=\"wrong_password\"") && audit[4].contains("status=401"));
    assert!(audit[7].contains("node_id=- "), "{}", audit[7]);
    assert!(
        !text.contains("forged"),
        "no raw path text reaches the log:\n{text}"
    );
    for secret in [
        wrong.to_owned(),
        PASSWORD.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}")),
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{wrong}")),
    ] {
        assert!(!text.contains(&secret), "the log holds a secret");
    }
    for line in &audit {
        assert!(line.contains("via=-"), "direct requests name no proxy: {line}");
    }

    // HS-PAIR-10: behind a trusted proxy (here the test client on 127.0.0.1) the log names the
    // forwarded client and the proxy it came through.
    let seen = log.0.lock().unwrap_or_else(PoisonError::into_inner).len();
    let dir = tempfile::tempdir().expect("dir");
    let mut config = server_config(dir.path());
    config.trusted_proxies =
        humansync_server::proxy::TrustedProxies::new(vec!["127.0.0.1".parse().expect("proxy")]);
    let server = humansync_server::start(config, Overrides::default())
        .await
        .expect("server starts");
    let (ke1, _) =
        humansync_sansio::pairing::pake::ClientStart::start(wrong.as_bytes(), &mut rng()).expect("ke1");
    let body = humansync_protocol::login::PairStartRequest {
        node_id: laptop,
        device_name: "laptop".into(),
        ke1: humansync_protocol::login::Hex(ke1.try_into().expect("96 bytes")),
    };
    let r = http
        .post(url(&server, "/pair/start"))
        .header("X-Forwarded-For", "203.0.113.66, 198.51.100.7")
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    server.shutdown().await.expect("shutdown");
    let all = log.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let text = String::from_utf8_lossy(&all[seen..]).into_owned();
    let audit: Vec<&str> = text.lines().filter(|l| l.contains("humansync::audit")).collect();
    assert_eq!(audit.len(), 1, "{text}");
    assert!(audit[0].contains("source=198.51.100.7 "), "{}", audit[0]);
    assert!(audit[0].contains("via=127.0.0.1:"), "{}", audit[0]);
    assert!(
        !audit[0].contains("203.0.113.66"),
        "the spoofable part is not the source"
    );
}
