//! HS-PAIR-10: behind a trusted reverse proxy the pairing guard keys on the client address the
//! proxy forwards in `X-Forwarded-For`; from any other peer the header changes nothing. The test
//! client on 127.0.0.1 plays the proxy (or the direct client) against a real server.

mod support;

use humansync_sansio::pairing::GuardConfig;
use humansync_server::Overrides;
use humansync_server::proxy::TrustedProxies;
use reqwest::StatusCode;
use support::*;

/// Two attempts per source, nothing else limits.
fn overrides(clock: &TestClock) -> Overrides {
    Overrides {
        clock: clock.clock(),
        guard: GuardConfig {
            rate_per_source: 2,
            rate_global: 1_000,
            failures_before_backoff: 1_000,
            lockout_failures: 1_000,
            ..GuardConfig::default()
        },
    }
}

async fn start(
    dir: &std::path::Path,
    proxies: &[&str],
    clock: &TestClock,
) -> humansync_server::RunningServer {
    let mut config = server_config(dir);
    config.trusted_proxies = TrustedProxies::new(proxies.iter().map(|p| p.parse().expect("proxy")).collect());
    humansync_server::start(config, overrides(clock))
        .await
        .expect("server starts")
}

/// A valid login start (200 when the guard lets it through; the device never finishes it)
/// carrying `forwarded` as `X-Forwarded-For`.
async fn attempt(
    http: &reqwest::Client,
    server: &humansync_server::RunningServer,
    forwarded: Option<&str>,
) -> StatusCode {
    let (ke1, _) = humansync_sansio::pairing::pake::ClientStart::start(b"guess", &mut rng()).expect("ke1");
    let body = humansync_protocol::login::PairStartRequest {
        node_id: id(&key(1)),
        device_name: "probe".into(),
        ke1: humansync_protocol::login::Hex(ke1.try_into().expect("96 bytes")),
    };
    let mut request = http.post(url(server, "/pair/start")).json(&body);
    if let Some(value) = forwarded {
        request = request.header("X-Forwarded-For", value);
    }
    request.send().await.expect("post").status()
}

const LET_THROUGH: StatusCode = StatusCode::OK;
const LIMITED: StatusCode = StatusCode::TOO_MANY_REQUESTS;

#[tokio::test]
async fn a_trusted_proxy_forwards_the_rate_limit_source() {
    // HS-PAIR-10, HS-PAIR-2
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let server = start(dir.path(), &["127.0.0.0/8", "10.0.0.0/8"], &clock).await;
    let http = client();
    let client_a = Some("198.51.100.1");
    assert_eq!(attempt(&http, &server, client_a).await, LET_THROUGH);
    assert_eq!(attempt(&http, &server, client_a).await, LET_THROUGH);
    assert_eq!(
        attempt(&http, &server, client_a).await,
        LIMITED,
        "client a used its 2 attempts"
    );
    // Other clients behind the same proxy have their own limits...
    assert_eq!(attempt(&http, &server, Some("198.51.100.2")).await, LET_THROUGH);
    assert_eq!(
        attempt(&http, &server, Some("2001:db8:1:2::1")).await,
        LET_THROUGH
    );
    // ...and so has the proxy's own traffic without the header.
    assert_eq!(attempt(&http, &server, None).await, LET_THROUGH);
    // Client a cannot escape by prepending addresses (the proxy appends the real one), and an
    // inner trusted proxy is walked past.
    assert_eq!(
        attempt(&http, &server, Some("203.0.113.66, 198.51.100.1")).await,
        LIMITED
    );
    assert_eq!(
        attempt(&http, &server, Some("203.0.113.66, 198.51.100.1, 10.1.2.3")).await,
        LIMITED
    );
    // An unsigned revocation login shares the guard (HS-PAIR-7), keyed the same way.
    let revoke = |forwarded: &'static str| {
        let (ke1, _) =
            humansync_sansio::pairing::pake::ClientStart::start(b"guess", &mut rng()).expect("ke1");
        let body = humansync_protocol::login::RevokeStartRequest {
            ke1: humansync_protocol::login::Hex(ke1.try_into().expect("96 bytes")),
        };
        http.post(url(&server, &format!("/devices/{}/revoke/start", id(&key(9)))))
            .json(&body)
            .header("X-Forwarded-For", forwarded)
            .send()
    };
    assert_eq!(revoke("198.51.100.1").await.expect("post").status(), LIMITED);
    assert_eq!(
        revoke("198.51.100.3").await.expect("post").status(),
        LET_THROUGH,
        "another client passes the guard"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_header_from_an_untrusted_peer_changes_nothing() {
    // HS-PAIR-10: no proxies configured, or the peer (127.0.0.1) is not one of them.
    for proxies in [&[][..], &["10.0.0.0/8", "::1"][..]] {
        let dir = tempfile::tempdir().expect("dir");
        let clock = TestClock::new();
        let server = start(dir.path(), proxies, &clock).await;
        let http = client();
        assert_eq!(attempt(&http, &server, Some("198.51.100.1")).await, LET_THROUGH);
        assert_eq!(attempt(&http, &server, Some("198.51.100.2")).await, LET_THROUGH);
        // Spoofed addresses did not give the direct client new budgets: it is limited as one.
        for spoofed in [Some("198.51.100.3"), Some("10.0.0.1, 198.51.100.4"), None] {
            assert_eq!(
                attempt(&http, &server, spoofed).await,
                LIMITED,
                "{proxies:?} {spoofed:?}"
            );
        }
        server.shutdown().await.expect("shutdown");
    }
}
