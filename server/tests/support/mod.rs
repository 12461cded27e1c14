//! Shared helpers: a real server (SQLite, iroh on 127.0.0.1 with relays off, HTTP on loopback)
//! in a temporary directory, library nodes that pair with it, signed requests.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use humansync::{HumanSyncConfig, Node, RelayConfig};
pub use humansync_benchkit::eventually;
use humansync_protocol::DeviceId;
use humansync_protocol::http::SignedAuth;
use humansync_server::clock::Clock;
use humansync_server::{Overrides, RunningServer, ServerConfig};

pub const PASSWORD: &str = "correct horse battery staple";
/// A fixed wall-clock start for tests that move time (2023-11-14).
pub const T0: u64 = 1_700_000_000_000;

/// A settable clock.
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl TestClock {
    pub fn new() -> Self {
        TestClock(Arc::new(AtomicU64::new(T0)))
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn clock(&self) -> Clock {
        Clock::manual(self.0.clone())
    }
}

pub fn server_config(dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(dir);
    config.password = Some(PASSWORD.into());
    config.http_addr = "127.0.0.1:0".parse().expect("addr");
    config.iroh_port = 0;
    config.iroh_bind = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config
}

/// The `humansync-server` binary serving from `dir` on loopback (HTTP on an ephemeral port,
/// iroh on port 0, relays off, `NO_COLOR`); the caller adds the password and anything else.
pub fn server_binary(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_humansync-server"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args([
            "--http-addr",
            "127.0.0.1:0",
            "--iroh-port",
            "0",
            "--relay",
            "disabled",
        ])
        .env("NO_COLOR", "1");
    cmd
}

pub async fn start_server(dir: &Path, overrides: Overrides) -> RunningServer {
    humansync_server::start(server_config(dir), overrides)
        .await
        .expect("server starts")
}

pub fn url(server: &RunningServer, path: &str) -> String {
    format!("http://{}{path}", server.http_addr())
}

/// A library node configured to pair with `server` over loopback http (any http is fine, HS-PAIR-11).
pub fn device_config(dir: &Path, server: &RunningServer) -> HumanSyncConfig {
    let mut config = HumanSyncConfig::new(dir);
    config.bind_addr = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config.mdns = false;
    config.interval_secs = 1;
    config.server_url = Some(format!("http://{}", server.http_addr()));
    config
}

pub async fn start_device(dir: &Path, server: &RunningServer) -> Node {
    humansync::init(device_config(dir, server))
        .await
        .expect("device starts")
}

/// Whether `node` holds document `doc` (under `notes/`).
pub async fn has_doc(node: &Node, doc: &str) -> bool {
    node.list_docs("notes/")
        .await
        .expect("list")
        .iter()
        .any(|d| d.as_str() == doc)
}

/// The `title` of `doc` on `node`, if `node` holds it (never creates it).
pub async fn title(node: &Node, doc: &str) -> Option<String> {
    if !has_doc(node, doc).await {
        return None;
    }
    node.open_doc(doc)
        .await
        .expect("open")
        .get::<String>("title")
        .await
        .expect("get")
}

/// Whether `node` has a session (open or opening) with `peer`.
pub async fn connected(node: &Node, peer: DeviceId) -> bool {
    node.sync_status()
        .await
        .expect("status")
        .peers
        .iter()
        .any(|p| p.peer == peer)
}

/// The relay `node` is connected to and reachable through (its home relay), if any.
pub async fn home_relay(node: &Node) -> Option<String> {
    node.stats().await.expect("stats").home_relay
}

/// A GET /devices request signed by `key` at `ts`.
pub fn signed(key: &SigningKey, ts: u64, nonce: [u8; 16]) -> String {
    SignedAuth::sign(key, "GET", "/devices", ts, nonce).to_header()
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn id(key: &SigningKey) -> DeviceId {
    DeviceId::from(key)
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a bundled rustls provider (see the workspace manifest).
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub fn now_ms() -> u64 {
    Clock::system().now_ms()
}

// --- the OPAQUE client side, for raw HTTP tests (the library has its own, in `login`) ----------

use humansync_protocol::http::{ErrorBody, PairResponse, RevokeResponse};
use humansync_protocol::login::{
    Hex, LoginStartResponse, OpaqueAuth, PairFinishRequest, PairStartRequest, RevokeStartRequest,
    SealedAnswer,
};
use humansync_sansio::pairing::pake::{ClientStart, Context, PakeRng};

/// An error answer: status and `code`.
pub type Refused = (reqwest::StatusCode, String);

pub fn rng() -> PakeRng {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("randomness");
    PakeRng::from_seed(seed)
}

/// Sends `request`; 2xx → the JSON body, else (status, code).
pub async fn send<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, Refused> {
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    if status.is_success() {
        Ok(serde_json::from_slice(&bytes).expect("JSON answer"))
    } else {
        let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: not an error body ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Err((status, body.error.code))
    }
}

/// `POST /pair/start` with `password`'s KE1 for `key` named `name`.
pub async fn pair_start(
    http: &reqwest::Client,
    base: &str,
    key: &SigningKey,
    name: &str,
    password: &str,
) -> Result<(LoginStartResponse, ClientStart), Refused> {
    let (ke1, client) = ClientStart::start(password.as_bytes(), &mut rng()).expect("ke1");
    let body = PairStartRequest {
        node_id: id(key),
        device_name: name.into(),
        ke1: Hex(ke1.try_into().expect("96 bytes")),
    };
    let start: LoginStartResponse = send(http.post(format!("{base}/pair/start")).json(&body)).await?;
    Ok((start, client))
}

/// The device's finish of a started pairing: `Err((401, "wrong_password"))` when the device
/// itself detects the wrong password (nothing is sent then), else the server's answer, its MAC
/// checked.
pub async fn pair_finish(
    http: &reqwest::Client,
    base: &str,
    key: &SigningKey,
    name: &str,
    password: &str,
    start: LoginStartResponse,
    client: ClientStart,
) -> Result<PairResponse, Refused> {
    let context = Context::pair(&start.server_node_id, &id(key), name);
    let Ok((ke3, session)) = client.finish(password.as_bytes(), &start.ke2.0, &context, &mut rng()) else {
        return Err((reqwest::StatusCode::UNAUTHORIZED, "wrong_password".into()));
    };
    let body = PairFinishRequest {
        login_id: start.login_id,
        ke3: Hex(ke3.try_into().expect("64 bytes")),
    };
    let sealed: SealedAnswer = send(http.post(format!("{base}/pair/finish")).json(&body)).await?;
    let mac: [u8; 32] = humansync_protocol::hex_text::decode_fixed(&sealed.auth).expect("mac hex");
    assert!(
        session.verify_answer_mac(sealed.answer.as_bytes(), &mac),
        "answer MAC verifies"
    );
    Ok(serde_json::from_str(&sealed.answer).expect("answer JSON"))
}

/// A whole password pairing of `key` named `name`.
pub async fn pair(
    http: &reqwest::Client,
    base: &str,
    key: &SigningKey,
    name: &str,
    password: &str,
) -> Result<PairResponse, Refused> {
    let (start, client) = pair_start(http, base, key, name, password).await?;
    pair_finish(http, base, key, name, password, start, client).await
}

/// A whole revocation of `target` with `password`; the start signed by `signer` at its time
/// (unix ms) when given.
pub async fn revoke(
    http: &reqwest::Client,
    base: &str,
    target: DeviceId,
    password: &str,
    signer: Option<(&SigningKey, u64)>,
) -> Result<RevokeResponse, Refused> {
    let (auth, _) = revoke_login(http, base, target, password, signer).await?;
    send(
        http.delete(format!("{base}/devices/{target}"))
            .header("authorization", auth.to_header()),
    )
    .await
}

/// The `HumanSync-OPAQUE` authorization of a revocation login for `target` (and its start answer).
pub async fn revoke_login(
    http: &reqwest::Client,
    base: &str,
    target: DeviceId,
    password: &str,
    signer: Option<(&SigningKey, u64)>,
) -> Result<(OpaqueAuth, LoginStartResponse), Refused> {
    let (ke1, client) = ClientStart::start(password.as_bytes(), &mut rng()).expect("ke1");
    let path = format!("/devices/{target}/revoke/start");
    let mut request = http.post(format!("{base}{path}")).json(&RevokeStartRequest {
        ke1: Hex(ke1.try_into().expect("96 bytes")),
    });
    if let Some((key, ts)) = signer {
        request = request.header(
            "authorization",
            SignedAuth::sign(key, "POST", &path, ts, rand_nonce()).to_header(),
        );
    }
    let start: LoginStartResponse = send(request).await?;
    let context = Context::revoke(&start.server_node_id, &target);
    let Ok((ke3, _)) = client.finish(password.as_bytes(), &start.ke2.0, &context, &mut rng()) else {
        return Err((reqwest::StatusCode::UNAUTHORIZED, "wrong_password".into()));
    };
    Ok((
        OpaqueAuth {
            login_id: start.login_id,
            ke3: Hex(ke3.try_into().expect("64 bytes")),
        },
        start,
    ))
}

pub fn rand_nonce() -> [u8; 16] {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).expect("randomness");
    nonce
}

/// A client whose requests come from `ip` (any 127.0.0.0/8 address works on loopback).
pub fn client_from(ip: &str) -> reqwest::Client {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .local_address(ip.parse::<std::net::IpAddr>().expect("ip"))
        .build()
        .expect("client")
}
