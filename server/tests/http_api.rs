//! The HTTP API of SPEC.md §5 against a real server in-process (real SQLite, real iroh node on
//! loopback, real HTTP over 127.0.0.1): every status and code path.

mod support;

use humansync_protocol::http::{DevicesResponse, ErrorBody, HealthResponse, PairResponse, RevokeResponse};
use humansync_protocol::limits::{HTTP_AUTH_WINDOW_MS, MAX_HTTP_BODY};
use humansync_protocol::{RegistryRecord, SignedRecord};
use humansync_sansio::pairing::GuardConfig;
use humansync_server::Overrides;
use reqwest::StatusCode;
use serde_json::json;
use support::*;

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("")),
        Some("application/json"),
        "HS-HTTP-1: error bodies are JSON"
    );
    let body: ErrorBody = response.json().await.expect("error body");
    (status, body.error.code)
}

fn pair_body(key: &ed25519_dalek::SigningKey, password: &str, name: &str) -> serde_json::Value {
    json!({"node_id": id(key).to_string(), "password": password, "device_name": name})
}

/// Limits loose enough that the tests of other paths never meet them (the guard has its own tests below).
fn overrides(clock: &TestClock) -> Overrides {
    Overrides {
        clock: clock.clock(),
        guard: GuardConfig {
            rate_per_source: 1_000,
            rate_global: 1_000,
            failures_before_backoff: 1_000,
            lockout_failures: 1_000,
            ..GuardConfig::default()
        },
    }
}

#[tokio::test]
async fn health_unknown_routes_and_body_limit() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    // HS-HTTP-5
    let health: HealthResponse = http
        .get(url(&server, "/health"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(health.status, "ok");
    assert_eq!(health.node_id, server.id());
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    // HS-HTTP-6: unknown path and unknown method on a known path.
    let r = http.get(url(&server, "/nope")).send().await.expect("get");
    assert_eq!(error_of(r).await, (StatusCode::NOT_FOUND, "not_found".into()));
    let r = http.get(url(&server, "/pair")).send().await.expect("get");
    assert_eq!(error_of(r).await, (StatusCode::NOT_FOUND, "not_found".into()));
    let r = http.post(url(&server, "/health")).send().await.expect("post");
    assert_eq!(error_of(r).await, (StatusCode::NOT_FOUND, "not_found".into()));
    // HS-HTTP-1: a body over MAX_HTTP_BODY is 413 before parsing (and before the guard).
    let big = vec![b'x'; MAX_HTTP_BODY + 1];
    for _ in 0..3 {
        let r = http
            .post(url(&server, "/pair"))
            .body(big.clone())
            .send()
            .await
            .expect("post");
        assert_eq!(
            error_of(r).await,
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large".into())
        );
    }
    // A body without a length (chunked) is cut at the limit too.
    assert_eq!(chunked_post_status(&server, MAX_HTTP_BODY + 1).await, 413);
    server.shutdown().await.expect("shutdown");
}

/// POSTs a chunked body of `len` bytes to /pair over a raw socket; returns the status.
async fn chunked_post_status(server: &humansync_server::RunningServer, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .expect("connect");
    let mut request =
        b"POST /pair HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    request.extend_from_slice(format!("{len:x}\r\n").as_bytes());
    request.extend(std::iter::repeat_n(b'{', len));
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    // The server may answer and close before reading everything: ignore write errors.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn pairing_validates_then_checks_the_password_then_registers() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    let pair = url(&server, "/pair");
    let laptop = key(1);
    // HS-HTTP-2 / HS-HTTP-7: malformed JSON, unknown keys, bad ids, the server's own id, empty names → 400.
    let bad_bodies = vec![
        json!("not an object"),
        json!({"node_id": id(&laptop).to_string(), "password": PASSWORD}),
        json!({"node_id": id(&laptop).to_string(), "password": PASSWORD, "device_name": "x", "extra": 1}),
        json!({"node_id": "00", "password": PASSWORD, "device_name": "x"}),
        json!({"node_id": "zz".repeat(32), "password": PASSWORD, "device_name": "x"}),
        json!({"node_id": server.id().to_string(), "password": PASSWORD, "device_name": "x"}),
        json!({"node_id": id(&laptop).to_string(), "password": PASSWORD, "device_name": " \t\n "}),
    ];
    for body in bad_bodies {
        let r = http.post(&pair).json(&body).send().await.expect("post");
        assert_eq!(
            error_of(r).await,
            (StatusCode::BAD_REQUEST, "bad_request".into()),
            "{body}"
        );
    }
    let r = http.post(&pair).body("{not json").send().await.expect("post");
    assert_eq!(error_of(r).await, (StatusCode::BAD_REQUEST, "bad_request".into()));
    // A wrong password: 401 and no change.
    let r = http
        .post(&pair)
        .json(&pair_body(&laptop, "wrong", "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "wrong_password".into())
    );
    assert!(server.node().registry().await.expect("registry").record_count() == 0);
    // Success: the name is sanitised (HS-PAIR-4), the record verifies under the server id.
    let ok: PairResponse = http
        .post(&pair)
        .json(&pair_body(&laptop, PASSWORD, "  my\tlaptop\n "))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(ok.server_node_id, server.id());
    assert!(!ok.server_addrs.is_empty());
    assert_eq!(ok.relay_url, None);
    assert_eq!(ok.devices.len(), 1);
    assert_eq!(ok.devices[0].node_id, id(&laptop));
    assert_eq!(ok.devices[0].name, "mylaptop");
    assert_eq!(ok.devices[0].paired_at_ms, T0);
    assert_eq!(ok.devices[0].revoked_at_ms, None);
    assert_eq!(ok.records.len(), 1);
    let record = SignedRecord::decode(&hex::decode(&ok.records[0]).expect("hex")).expect("record");
    assert_eq!(
        record.verify(&server.id()).expect("verifies under the server id"),
        RegistryRecord::Device {
            device: id(&laptop),
            name: "mylaptop".into(),
            paired_at_ms: T0
        }
    );
    // Pairing again is idempotent: the same record, the new name ignored (HS-HTTP-2, HS-REG-11).
    clock.advance(1_000);
    let again: PairResponse = http
        .post(&pair)
        .json(&pair_body(&laptop, PASSWORD, "renamed"))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(again.records, ok.records);
    assert_eq!(again.devices[0].name, "mylaptop");
    // A second device sees both.
    let phone = key(2);
    let second: PairResponse = http
        .post(&pair)
        .json(&pair_body(&phone, PASSWORD, "phone"))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(second.devices.len(), 2);
    assert_eq!(second.records.len(), 2);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn signed_device_listing() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    let devices = url(&server, "/devices");
    let laptop = key(1);
    let stranger = key(9);
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&laptop, PASSWORD, "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let get = |auth: Option<String>| {
        let mut request = http.get(&devices);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let t = clock.now();
    // HS-HTTP-3: every refusal is 401 unauthorized.
    let refused = vec![
        None,
        Some("Bearer abc".to_owned()),
        Some(signed(&laptop, t, [1; 16]).replace("ts=", "ts=x")),
        Some(signed(&laptop, t - HTTP_AUTH_WINDOW_MS - 1, [1; 16])),
        Some(signed(&laptop, t + HTTP_AUTH_WINDOW_MS + 1, [1; 16])),
        Some(signed(&stranger, t, [1; 16])),
        // A signature by another key under the laptop's id.
        Some(signed(&stranger, t, [1; 16]).replace(&id(&stranger).to_string(), &id(&laptop).to_string())),
    ];
    for auth in refused {
        let r = get(auth.clone()).await.expect("get");
        assert_eq!(
            error_of(r).await,
            (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            "{auth:?}"
        );
    }
    let ok: DevicesResponse = get(Some(signed(&laptop, t, [1; 16])))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(ok.devices.len(), 1);
    assert_eq!(ok.devices[0].node_id, id(&laptop));
    // The same nonce again: replayed (HS-HTTP-3).
    let r = get(Some(signed(&laptop, t, [1; 16]))).await.expect("get");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    let r = get(Some(signed(&laptop, t + 1, [2; 16]))).await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    // Revoked signer: 403 revoked.
    let r = http
        .delete(url(&server, &format!("/devices/{}", id(&laptop))))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    let r = get(Some(signed(&laptop, t + 2, [3; 16]))).await.expect("get");
    assert_eq!(error_of(r).await, (StatusCode::FORBIDDEN, "revoked".into()));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn revocation_needs_the_admin_password_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    let laptop = key(1);
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&laptop, PASSWORD, "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let target = url(&server, &format!("/devices/{}", id(&laptop)));
    // HS-HTTP-4: missing or wrong credentials → 401 wrong_password with a Basic challenge.
    for request in [
        http.delete(&target),
        http.delete(&target).basic_auth("admin", Some("wrong")),
        http.delete(&target).basic_auth("root", Some(PASSWORD)),
        http.delete(&target).header("authorization", "Basic !!!"),
    ] {
        let r = request.send().await.expect("delete");
        assert_eq!(
            r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
            Some("Basic realm=\"humansync\"")
        );
        assert_eq!(
            error_of(r).await,
            (StatusCode::UNAUTHORIZED, "wrong_password".into())
        );
    }
    assert!(
        !server
            .node()
            .registry()
            .await
            .expect("registry")
            .is_revoked(&id(&laptop))
    );
    let admin = |path: String| {
        http.delete(url(&server, &path))
            .basic_auth("admin", Some(PASSWORD))
            .send()
    };
    let r = admin("/devices/xyz".into()).await.expect("delete");
    assert_eq!(error_of(r).await, (StatusCode::BAD_REQUEST, "bad_request".into()));
    let r = admin(format!("/devices/{}", id(&key(7)))).await.expect("delete");
    assert_eq!(error_of(r).await, (StatusCode::NOT_FOUND, "not_found".into()));
    let r = admin(format!("/devices/{}", server.id())).await.expect("delete");
    assert_eq!(error_of(r).await, (StatusCode::NOT_FOUND, "not_found".into()));
    // Upper-case hex is accepted (HS-HTTP-7).
    let first: RevokeResponse = admin(format!("/devices/{}", id(&laptop).to_string().to_uppercase()))
        .await
        .expect("delete")
        .json()
        .await
        .expect("json");
    assert_eq!(first.node_id, id(&laptop));
    assert_eq!(first.revoked_at_ms, T0);
    let record = SignedRecord::decode(&hex::decode(&first.record).expect("hex")).expect("record");
    assert_eq!(
        record.verify(&server.id()).expect("verifies"),
        RegistryRecord::Revoked {
            device: id(&laptop),
            revoked_at_ms: T0
        }
    );
    assert!(
        server
            .node()
            .registry()
            .await
            .expect("registry")
            .is_revoked(&id(&laptop))
    );
    clock.advance(5_000);
    let second: RevokeResponse = admin(format!("/devices/{}", id(&laptop)))
        .await
        .expect("delete")
        .json()
        .await
        .expect("json");
    assert_eq!(
        second, first,
        "HS-HTTP-4: revoking again returns the original record"
    );
    // A revoked id can never pair again (HS-REG-4).
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&laptop, PASSWORD, "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(error_of(r).await, (StatusCode::FORBIDDEN, "revoked".into()));
    // A wrong password on a revoked id is still 401 first.
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&laptop, "nope", "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "wrong_password".into())
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn backoff_lockout_and_rate_limits_answer_429_with_retry_after() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    // Small limits so the test stays short; the guard's own tests cover the SPEC's constants.
    let guard = GuardConfig {
        failures_before_backoff: 2,
        backoff_base_ms: 10_000,
        backoff_max_ms: 40_000,
        lockout_failures: 5,
        lockout_window_ms: 600_000,
        lockout_duration_ms: 900_000,
        rate_per_source: 100,
        rate_global: 100,
        ..GuardConfig::default()
    };
    let server = start_server(
        dir.path(),
        Overrides {
            clock: clock.clock(),
            guard,
        },
    )
    .await;
    let http = client();
    let laptop = key(1);
    let wrong = || {
        http.post(url(&server, "/pair"))
            .json(&pair_body(&laptop, "wrong", "laptop"))
            .send()
    };
    // Two failures, then backoff (HS-PAIR-2).
    for _ in 0..2 {
        let r = wrong().await.expect("post");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = wrong().await.expect("post");
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("10")
    );
    assert_eq!(
        error_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
    // Even the right password is refused during backoff, with no change.
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&laptop, PASSWORD, "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    clock.advance(10_000);
    // HS-PAIR-7: a wrong admin password counts as a failure of the same guard.
    let r = http
        .delete(url(&server, &format!("/devices/{}", id(&laptop))))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = wrong().await.expect("post");
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "backoff doubled after the DELETE failure"
    );
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("20")
    );
    clock.advance(20_000);
    let r = wrong().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    clock.advance(40_000);
    // The fifth failure locks pairing for everyone for lockout_duration_ms.
    let r = wrong().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    clock.advance(40_000);
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&key(2), PASSWORD, "phone"))
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("860")
    );
    assert_eq!(
        error_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
    clock.advance(860_000);
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&key(2), PASSWORD, "phone"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK, "the lockout ended");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn per_source_rate_limit_and_lockout_spares_registered_devices() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let guard = GuardConfig {
        rate_per_source: 3,
        rate_window_ms: 60_000,
        lockout_failures: 1,
        ..GuardConfig::default()
    };
    let server = start_server(
        dir.path(),
        Overrides {
            clock: clock.clock(),
            guard,
        },
    )
    .await;
    let http = client();
    let laptop = key(1);
    for i in 0..3u8 {
        let r = http
            .post(url(&server, "/pair"))
            .json(&pair_body(&key(10 + i), PASSWORD, "d"))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::OK);
        clock.advance(1_000);
    }
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&laptop, PASSWORD, "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("57")
    );
    clock.advance(57_000);
    // One failure locks everyone out now (lockout_failures = 1)...
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&laptop, "wrong", "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&laptop, PASSWORD, "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...but registered devices still list devices (HS-PAIR-2).
    let r = http
        .get(url(&server, "/devices"))
        .header("authorization", signed(&key(10), clock.now(), [5; 16]))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn registry_and_password_hash_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let first_id = server.id();
    let phc = server.state().password.phc().to_owned();
    assert!(
        phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "HS-PAIR-1: {phc}"
    );
    let http = client();
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&key(1), PASSWORD, "laptop"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    server.shutdown().await.expect("shutdown");
    // The database holds the hash, never the password (HS-PAIR-1).
    let db_bytes = std::fs::read(dir.path().join("registry.db")).expect("db");
    let wal = std::fs::read(dir.path().join("registry.db-wal")).unwrap_or_default();
    for bytes in [&db_bytes, &wal] {
        assert!(!bytes.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));
    }
    // Restart without a password: the stored hash is used; same id and registry.
    let mut config = server_config(dir.path());
    config.password = None;
    let server = humansync_server::start(config, overrides(&clock))
        .await
        .expect("restart");
    assert_eq!(server.id(), first_id);
    assert_eq!(server.state().password.phc(), phc);
    assert!(
        server
            .node()
            .registry()
            .await
            .expect("registry")
            .is_registered(&id(&key(1)))
    );
    let r = http
        .post(url(&server, "/pair"))
        .json(&pair_body(&key(2), PASSWORD, "phone"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    server.shutdown().await.expect("shutdown");
}
