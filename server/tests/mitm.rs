//! Issue 15: an active man in the middle on plain http. A rewriting HTTP proxy in front of the
//! real server substitutes its own server id, or the addresses in the pairing answer; an
//! impostor server does not know the password. The library refuses each with a clear error and
//! stores nothing: no anchor, no pairing file, no records.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use humansync::Error;
use humansync_server::Overrides;
use support::*;

/// What the proxy rewrites in response bodies.
type Rewrite = Arc<dyn Fn(&str, String) -> String + Send + Sync>;

/// An HTTP proxy to `target` that passes requests through and rewrites response bodies.
async fn rewriting_proxy(target: String, rewrite: Rewrite) -> String {
    async fn forward(State((target, rewrite)): State<(String, Rewrite)>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
        let path = parts.uri.path().to_owned();
        let mut out = client()
            .request(parts.method, format!("{target}{path}"))
            .body(body.to_vec());
        if let Some(auth) = parts.headers.get("authorization") {
            out = out.header("authorization", auth.clone());
        }
        let answer = out
            .header("content-type", "application/json")
            .send()
            .await
            .expect("forward");
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        let text = if status.is_success() {
            rewrite(&path, text)
        } else {
            text
        };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(text))
            .expect("response")
    }
    let app = axum::Router::new()
        .fallback(forward)
        .with_state((target, rewrite));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Nothing of a pairing was kept on `node` (data directory `dir`).
async fn nothing_stored(node: &humansync::Node, dir: &std::path::Path) {
    assert!(!dir.join("pairing.json").exists(), "no pairing file");
    assert!(!dir.join("server.url").exists(), "no server URL");
    let view = node.registry().await.expect("view");
    assert_eq!(view.anchor(), None, "no anchor");
    assert_eq!(view.devices().count(), 0, "no records");
}

#[tokio::test]
async fn a_substituted_server_id_or_answer_is_refused_and_nothing_is_stored() {
    let (sdir, ddir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start_server(sdir.path(), Overrides::default()).await;
    let real = url(&server, "");
    let impostor_id = id(&key(66)).to_string();
    let real_id = server.id().to_string();
    let device = start_device(ddir.path(), &server).await;

    // 1. The proxy claims to be another node (its own id) in the login answer.
    let (from, to) = (real_id.clone(), impostor_id.clone());
    let swap_id: Rewrite = Arc::new(move |path, body| {
        if path == "/pair/start" {
            body.replace(&from, &to)
        } else {
            body
        }
    });
    let proxy = rewriting_proxy(real.clone(), swap_id).await;
    let err = device
        .pair_with(&proxy, PASSWORD)
        .await
        .expect_err("substituted id");
    assert!(matches!(err, Error::WrongPassword), "{err}");
    assert!(err.to_string().contains("altered in transit"), "{err}");
    nothing_stored(&device, ddir.path()).await;

    // 2. The login is left alone; the answer's addresses are replaced by the attacker's.
    let swap_addrs: Rewrite = Arc::new(|path, body| {
        if path == "/pair/finish" {
            body.replace("127.0.0.1:", "203.0.113.66:")
        } else {
            body
        }
    });
    let proxy = rewriting_proxy(real.clone(), swap_addrs).await;
    let err = device
        .pair_with(&proxy, PASSWORD)
        .await
        .expect_err("altered answer");
    assert!(err.to_string().contains("MAC does not verify"), "{err}");
    nothing_stored(&device, ddir.path()).await;

    // 3. An impostor server that does not hold the password record (its own, other password).
    let idir = tempfile::tempdir().expect("dir");
    let mut config = server_config(idir.path());
    config.password = Some("the impostor does not know it".into());
    let impostor = humansync_server::start(config, Overrides::default())
        .await
        .expect("impostor");
    let err = device
        .pair_with(&url(&impostor, ""), PASSWORD)
        .await
        .expect_err("impostor");
    assert!(matches!(err, Error::WrongPassword), "{err}");
    nothing_stored(&device, ddir.path()).await;
    impostor.shutdown().await.expect("stop");

    // Through no proxy at all, the same device pairs and pins the real server.
    device.pair_with(&real, PASSWORD).await.expect("pairs");
    assert_eq!(device.registry().await.expect("view").anchor(), Some(server.id()));
    device.shutdown().await.expect("stop");
    server.shutdown().await.expect("shutdown");
}
