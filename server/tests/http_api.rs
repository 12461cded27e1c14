//! The HTTP API of SPEC.md §5 (version 2) against a real server in-process (real SQLite, real
//! iroh node on loopback, real HTTP over 127.0.0.1): every status and code path of pairing,
//! signed listing and revocation with OPAQUE logins.

mod support;

use humansync_protocol::http::{DevicesResponse, ErrorBody, HealthResponse};
use humansync_protocol::limits::{HTTP_AUTH_FUTURE_MS, HTTP_AUTH_WINDOW_MS, MAX_HTTP_BODY};
use humansync_protocol::login::{Hex, LoginStartResponse};
use humansync_protocol::{RegistryRecord, SignedRecord};
use humansync_sansio::pairing::GuardConfig;
use humansync_server::Overrides;
use humansync_server::logins::LOGIN_TTL_MS;
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

/// Limits loose enough that the tests of other paths never meet them (the guard has its own tests).
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
async fn health_unknown_routes_body_limit_and_version_1_clients() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    // HS-HTTP-5
    let health: HealthResponse = send(http.get(url(&server, "/health"))).await.expect("health");
    assert_eq!((health.status.as_str(), health.node_id), ("ok", server.id()));
    assert_eq!(health.api_version, Some(2));
    // HS-HTTP-6: unknown path and unknown method on a known path.
    for request in [
        http.get(url(&server, "/nope")),
        http.get(url(&server, "/pair/start")),
        http.post(url(&server, "/health")),
    ] {
        let r = request.send().await.expect("send");
        assert_eq!(error_of(r).await, (StatusCode::NOT_FOUND, "not_found".into()));
    }
    // HS-HTTP-8: a version-1 pairing is refused without looking at the password; so are Basic
    // credentials on DELETE.
    let v1 = json!({"node_id": id(&key(1)).to_string(), "password": PASSWORD, "device_name": "old"});
    let r = http
        .post(url(&server, "/pair"))
        .json(&v1)
        .send()
        .await
        .expect("post");
    assert_eq!(error_of(r).await, (StatusCode::GONE, "upgrade_required".into()));
    let r = http
        .delete(url(&server, &format!("/devices/{}", id(&key(1)))))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .expect("delete");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "upgrade_required".into())
    );
    // HS-HTTP-1: a body over MAX_HTTP_BODY is 413 before parsing (and before the guard).
    let big = vec![b'x'; MAX_HTTP_BODY + 1];
    for _ in 0..3 {
        let r = http
            .post(url(&server, "/pair/start"))
            .body(big.clone())
            .send()
            .await
            .expect("post");
        assert_eq!(
            error_of(r).await,
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large".into())
        );
    }
    assert_eq!(chunked_post_status(&server, MAX_HTTP_BODY + 1).await, 413);
    server.shutdown().await.expect("shutdown");
}

/// POSTs a chunked body of `len` bytes to /pair/start over a raw socket; returns the status.
async fn chunked_post_status(server: &humansync_server::RunningServer, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .expect("connect");
    let mut request =
        b"POST /pair/start HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
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
async fn pairing_validates_then_logs_in_then_registers() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    let base = url(&server, "");
    let laptop = key(1);
    let ke1 = Hex([0x42u8; 96]).to_string();
    let node = id(&laptop).to_string();
    // HS-HTTP-2 / HS-HTTP-7: malformed bodies → 400 bad_request, before any login is counted.
    let bad_bodies = vec![
        "not json".to_owned(),
        json!({"node_id": node, "device_name": "x"}).to_string(),
        json!({"node_id": node, "device_name": "x", "ke1": ke1, "password": PASSWORD}).to_string(),
        json!({"node_id": "00", "device_name": "x", "ke1": ke1}).to_string(),
        json!({"node_id": node, "device_name": "x", "ke1": "00"}).to_string(),
        json!({"node_id": node, "device_name": " \t\n", "ke1": ke1}).to_string(),
        json!({"node_id": server.id().to_string(), "device_name": "x", "ke1": ke1}).to_string(),
        // The right length but not a ristretto255 element: the OPAQUE library refuses it.
        json!({"node_id": node, "device_name": "x", "ke1": Hex([0xffu8; 96]).to_string()}).to_string(),
    ];
    for body in bad_bodies {
        let r = http
            .post(url(&server, "/pair/start"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("post");
        assert_eq!(
            error_of(r).await,
            (StatusCode::BAD_REQUEST, "bad_request".into()),
            "{body}"
        );
    }
    // A wrong password: the device finds out itself when the envelope does not open; nothing is
    // registered. A forged KE3 is 401 wrong_password on the server.
    assert_eq!(
        pair(&http, &base, &laptop, "laptop", "wrong").await.err(),
        Some((StatusCode::UNAUTHORIZED, "wrong_password".into()))
    );
    let (start, _) = pair_start(&http, &base, &laptop, "laptop", PASSWORD)
        .await
        .expect("start");
    let forged = json!({"login_id": start.login_id, "ke3": Hex([7u8; 64])});
    let r = http
        .post(url(&server, "/pair/finish"))
        .json(&forged)
        .send()
        .await
        .expect("post");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "wrong_password".into())
    );
    // That login is gone: finishing it again is login_expired.
    let r = http
        .post(url(&server, "/pair/finish"))
        .json(&forged)
        .send()
        .await
        .expect("post");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "login_expired".into())
    );
    assert!(
        !server
            .node()
            .registry()
            .await
            .expect("view")
            .is_registered(&id(&laptop))
    );
    // The right password: 200, a MAC'ed answer with the records (HS-PAIR-12).
    let answer = pair(&http, &base, &laptop, "  my\tlaptop\n ", PASSWORD)
        .await
        .expect("paired");
    assert_eq!(answer.server_node_id, server.id());
    assert_eq!(answer.devices.len(), 1);
    assert_eq!(answer.devices[0].name, "mylaptop", "HS-PAIR-4");
    let record = SignedRecord::decode(&hex::decode(&answer.records[0]).expect("hex")).expect("record");
    assert!(matches!(
        record.verify(&server.id()),
        Ok(RegistryRecord::Device { .. })
    ));
    // Idempotent: the same record again, whatever the name now.
    let again = pair(&http, &base, &laptop, "renamed", PASSWORD)
        .await
        .expect("again");
    assert_eq!(again.records, answer.records);
    // A login expires after LOGIN_TTL_MS.
    let (start, client) = pair_start(&http, &base, &key(2), "phone", PASSWORD)
        .await
        .expect("start");
    clock.advance(LOGIN_TTL_MS + 1);
    assert_eq!(
        pair_finish(&http, &base, &key(2), "phone", PASSWORD, start, client)
            .await
            .err(),
        Some((StatusCode::UNAUTHORIZED, "login_expired".into()))
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn signed_device_listing() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    let base = url(&server, "");
    let devices = url(&server, "/devices");
    let (laptop, stranger) = (key(1), key(9));
    pair(&http, &base, &laptop, "laptop", PASSWORD)
        .await
        .expect("paired");
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
        // Within the window, but signed before this server process started (its nonce memory
        // is not persisted, so it could be a replay of a request the last process accepted).
        Some(signed(&laptop, t - 1, [1; 16])),
        // Ahead of the server's clock by more than HTTP_AUTH_FUTURE_MS (the window is wider).
        Some(signed(&laptop, t + HTTP_AUTH_FUTURE_MS + 1, [1; 16])),
        Some(signed(&stranger, t, [1; 16])),
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
    let ok: DevicesResponse = send(
        http.get(&devices)
            .header("authorization", signed(&laptop, t, [1; 16])),
    )
    .await
    .expect("listed");
    assert_eq!(ok.devices.len(), 1);
    assert_eq!(ok.devices[0].node_id, id(&laptop));
    // The same nonce again: replayed (HS-HTTP-3).
    let r = get(Some(signed(&laptop, t, [1; 16]))).await.expect("get");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    assert_eq!(
        get(Some(signed(&laptop, t + 1, [2; 16])))
            .await
            .expect("get")
            .status(),
        StatusCode::OK
    );
    // Revoked signer: 403 revoked.
    revoke(&http, &base, id(&laptop), PASSWORD, None)
        .await
        .expect("revoked");
    let r = get(Some(signed(&laptop, t + 2, [3; 16]))).await.expect("get");
    assert_eq!(error_of(r).await, (StatusCode::FORBIDDEN, "revoked".into()));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn revocation_needs_a_login_bound_to_its_target_and_cannot_be_replayed() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    let base = url(&server, "");
    let (laptop, phone) = (key(1), key(2));
    pair(&http, &base, &laptop, "laptop", PASSWORD)
        .await
        .expect("laptop");
    pair(&http, &base, &phone, "phone", PASSWORD)
        .await
        .expect("phone");
    let target = url(&server, &format!("/devices/{}", id(&laptop)));
    // HS-HTTP-4: missing or malformed credentials → 401 wrong_password with a challenge.
    for request in [
        http.delete(&target),
        http.delete(&target)
            .header("authorization", "HumanSync-OPAQUE login_id=00"),
    ] {
        let r = request.send().await.expect("delete");
        assert_eq!(
            r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
            Some("HumanSync-OPAQUE")
        );
        assert_eq!(
            error_of(r).await,
            (StatusCode::UNAUTHORIZED, "wrong_password".into())
        );
    }
    // A wrong password fails on the client; a login for the phone cannot revoke the laptop.
    assert_eq!(
        revoke(&http, &base, id(&laptop), "wrong", None).await.err(),
        Some((StatusCode::UNAUTHORIZED, "wrong_password".into()))
    );
    let (for_phone, _) = revoke_login(&http, &base, id(&phone), PASSWORD, None)
        .await
        .expect("login");
    let r = http
        .delete(&target)
        .header("authorization", for_phone.to_header())
        .send()
        .await
        .expect("delete");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "login_expired".into())
    );
    // A proper login revokes; the captured request replayed is refused.
    let (auth, _) = revoke_login(&http, &base, id(&laptop), PASSWORD, None)
        .await
        .expect("login");
    let first: humansync_protocol::http::RevokeResponse =
        send(http.delete(&target).header("authorization", auth.to_header()))
            .await
            .expect("revoked");
    assert_eq!(first.node_id, id(&laptop));
    let r = http
        .delete(&target)
        .header("authorization", auth.to_header())
        .send()
        .await
        .expect("replay");
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "login_expired".into())
    );
    // Idempotent with a new login; the record verifies under the server's id.
    let again = revoke(&http, &base, id(&laptop), PASSWORD, Some((&phone, clock.now())))
        .await
        .expect("again");
    assert_eq!(again.record, first.record);
    let record = SignedRecord::decode(&hex::decode(&again.record).expect("hex")).expect("record");
    assert!(matches!(
        record.verify(&server.id()),
        Ok(RegistryRecord::Revoked { .. })
    ));
    // Unknown devices and the server itself: 404 after the login; a bad id: 400.
    for unknown in [id(&key(7)), server.id()] {
        assert_eq!(
            revoke(&http, &base, unknown, PASSWORD, None).await.err(),
            Some((StatusCode::NOT_FOUND, "not_found".into()))
        );
    }
    let r = http
        .post(url(&server, "/devices/xyz/revoke/start"))
        .json(&json!({"ke1": Hex([1u8; 96])}))
        .send()
        .await
        .expect("post");
    assert_eq!(error_of(r).await, (StatusCode::BAD_REQUEST, "bad_request".into()));
    // A revoked device cannot pair again.
    assert_eq!(
        pair(&http, &base, &laptop, "laptop", PASSWORD).await.err(),
        Some((StatusCode::FORBIDDEN, "revoked".into()))
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_forged_login_answer_is_refused_by_the_device() {
    // HS-PAIR-11: a man in the middle that tells the device another server id makes the login
    // fail on the device (the server's KE2 MAC covers the real id).
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start_server(dir.path(), overrides(&clock)).await;
    let http = client();
    let base = url(&server, "");
    let laptop = key(1);
    let (mut start, client_state): (LoginStartResponse, _) =
        pair_start(&http, &base, &laptop, "laptop", PASSWORD)
            .await
            .expect("start");
    start.server_node_id = id(&key(66));
    assert_eq!(
        pair_finish(&http, &base, &laptop, "laptop", PASSWORD, start, client_state)
            .await
            .err(),
        Some((StatusCode::UNAUTHORIZED, "wrong_password".into())),
        "the device cannot complete the login under a substituted server id"
    );
    // The same for a substituted device name in the start request: the server bound the name it
    // received, the device the one it meant.
    let (start, client_state) = pair_start(&http, &base, &laptop, "evil", PASSWORD)
        .await
        .expect("start");
    assert!(
        pair_finish(&http, &base, &laptop, "laptop", PASSWORD, start, client_state)
            .await
            .is_err(),
        "a renamed request does not verify"
    );
    assert!(
        !server
            .node()
            .registry()
            .await
            .expect("view")
            .is_registered(&id(&laptop))
    );
    server.shutdown().await.expect("shutdown");
}
