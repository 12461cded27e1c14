//! `GET /metrics` (Prometheus/OpenMetrics text) on its own listener: pairing and revocation
//! attempts by outcome, sessions, documents, sync bytes and exchanges, store and blob bytes,
//! devices by state — with no device id, name or secret anywhere in it, not on the API port,
//! and still served while the pairing guard refuses every pairing attempt.

mod support;

use std::time::Duration;

use humansync_sansio::pairing::GuardConfig;
use humansync_server::Overrides;
use support::*;

/// The value of the sample line starting with `prefix` (name plus labels).
fn sample(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix) && l[prefix.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(http: &reqwest::Client, addr: std::net::SocketAddr) -> String {
    let answer = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(answer.status(), 200);
    let kind = answer.headers()["content-type"]
        .to_str()
        .expect("type")
        .to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    answer.text().await.expect("body")
}

#[tokio::test]
async fn metrics_count_outcomes_and_work_without_naming_anyone() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = server_config(&dir.path().join("server"));
    config.metrics_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let overrides = Overrides {
        guard: GuardConfig {
            rate_per_source: 4,
            ..GuardConfig::default()
        },
        ..Overrides::default()
    };
    let server = humansync_server::start(config, overrides).await.expect("server");
    let metrics = server.metrics_addr().expect("metrics served");
    assert_ne!(metrics, server.http_addr());
    let http = client();

    // A device pairs (ok), one guess fails (a login started, never finished), one request is
    // malformed, one comes from a version-1 client.
    let device = start_device(&dir.path().join("device"), &server).await;
    device.pair(PASSWORD).await.expect("pair");
    let stranger = start_device(&dir.path().join("stranger"), &server).await;
    assert!(stranger.pair("not the password").await.is_err());
    let bad = http
        .post(url(&server, "/pair/start"))
        .body("{")
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status(), 400);
    let old = http
        .post(url(&server, "/pair"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(old.status(), 410);
    let doc = device.open_doc("notes/metrics").await.expect("doc");
    doc.put("title", "counted").await.expect("put");
    let server_id = server.id();
    for _ in 0..100 {
        if has_doc(server.node(), "notes/metrics").await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stranger
        .revoke_device(device.id(), PASSWORD, Some(&url(&server, "")))
        .await
        .expect("revoke");

    let body = scrape(&http, metrics).await;
    assert_eq!(
        sample(&body, "humansync_pair_attempts_total{outcome=\"ok\"}"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "humansync_logins_started_total{purpose=\"pair\"}"),
        Some(2.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "humansync_logins_started_total{purpose=\"revoke\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &body,
            "humansync_pair_attempts_total{outcome=\"upgrade_required\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&body, "humansync_pair_attempts_total{outcome=\"bad_request\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&body, "humansync_revoke_attempts_total{outcome=\"ok\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&body, "humansync_devices{state=\"revoked\"}"), Some(1.0));
    assert!(
        sample(&body, "humansync_documents").is_some_and(|n| n >= 1.0),
        "{body}"
    );
    assert!(sample(&body, "humansync_sessions_opened_total").is_some_and(|n| n >= 1.0));
    assert!(sample(&body, "humansync_sync_bytes_in_total").is_some_and(|n| n > 0.0));
    assert!(sample(&body, "humansync_sync_bytes_out_total").is_some_and(|n| n > 0.0));
    assert!(sample(&body, "humansync_sync_exchanges_total").is_some_and(|n| n >= 1.0));
    assert!(sample(&body, "humansync_remote_changes_total").is_some_and(|n| n >= 1.0));
    assert!(sample(&body, "humansync_store_bytes").is_some_and(|n| n > 0.0));
    for name in [
        "humansync_sessions_open",
        "humansync_quarantines_total",
        "humansync_blob_bytes",
        "humansync_blobs_missing",
        // HS-BLOB-4
        "humansync_blobs_held",
        "humansync_blobs_held_bytes",
        "humansync_blobs_pending_deletion",
        "humansync_blobs_pending_deletion_bytes",
        "humansync_blobs_deleted_total",
        "humansync_blob_bytes_deleted_total",
    ] {
        assert!(sample(&body, name).is_some(), "{name} missing from {body}");
    }
    // No device id (the server's or a device's), no name, no password.
    for secret in [
        device.id().to_string(),
        server_id.to_string(),
        PASSWORD.to_owned(),
    ] {
        assert!(!body.contains(&secret), "{secret} appears in /metrics");
    }
    assert!(!body.contains("hostname") && !body.contains("device_name"));

    // Not on the API port; and with the pairing guard refusing everything, still served.
    let on_api = http.get(url(&server, "/metrics")).send().await.expect("get");
    assert_eq!(on_api.status(), 404);
    let mut limited = 0;
    let base = url(&server, "");
    for seed in 0..20u8 {
        if let Err((status, _)) = pair_start(&http, &base, &key(seed), "guess", "wrong").await
            && status == 429
        {
            limited += 1;
        }
    }
    assert!(limited > 0, "the guard refuses pairing bursts");
    for _ in 0..30 {
        scrape(&http, metrics).await;
    }
    let body = scrape(&http, metrics).await;
    assert!(
        sample(&body, "humansync_pair_attempts_total{outcome=\"rate_limited\"}").is_some_and(|n| n >= 1.0)
    );
    device.shutdown().await.expect("shutdown");
    stranger.shutdown().await.expect("shutdown");
    server.shutdown().await.expect("shutdown");
}
