//! The device side of the Docker acceptance test (scripts/docker-test.sh runs these, in order,
//! against a container it started; they are ignored in a plain `cargo test`).
//!
//! Env: `HUMANSYNC_DOCKER_URL` (http://<container ip>:8080), `HUMANSYNC_DOCKER_STATE` (a host
//! directory kept between the phases), `HUMANSYNC_DOCKER_PASSWORD`, `HUMANSYNC_DOCKER_NAME` (the
//! container, whose log tells which blobs it fetched).

mod support;

use std::path::PathBuf;

use humansync::protocol::http::{DevicesResponse, HealthResponse, SignedAuth};
use humansync::{BlobHash, DeviceId, HumanSyncConfig, Node, RelayConfig};
use reqwest::StatusCode;
use support::{client, connected, eventually, home_relay, now_ms, title};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set (run scripts/docker-test.sh)"))
}

/// The relay the container serves: on the API's host, port 3340 (HS-RELAY-1).
fn container_relay() -> String {
    let api = reqwest::Url::parse(&env("HUMANSYNC_DOCKER_URL")).expect("HUMANSYNC_DOCKER_URL is a URL");
    format!("http://{}:3340/", api.host_str().expect("host"))
}

fn state() -> PathBuf {
    PathBuf::from(env("HUMANSYNC_DOCKER_STATE"))
}

async fn device(name: &str) -> Node {
    let mut config = HumanSyncConfig::new(state().join(name));
    // Only the relay the container announces (it runs with --serve-relay).
    config.relay = RelayConfig::Server;
    config.mdns = false;
    config.interval_secs = 1;
    config.server_url = Some(env("HUMANSYNC_DOCKER_URL"));
    humansync::init(config).await.expect("device starts")
}

/// Whether the container's log says it fetched `hash` (the driver logs "blob fetched" with the
/// hash once the blob is whole and durable).
fn container_fetched(hash: BlobHash) -> bool {
    let out = std::process::Command::new("docker")
        .args(["logs", &env("HUMANSYNC_DOCKER_NAME")])
        .output()
        .expect("docker logs runs");
    // The server logs to stderr.
    let log = String::from_utf8_lossy(&out.stderr);
    let hash = hash.to_string();
    log.lines()
        .any(|line| line.contains("blob fetched") && line.contains(&hash))
}

async fn health() -> HealthResponse {
    client()
        .get(format!("{}/health", env("HUMANSYNC_DOCKER_URL")))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json")
}

async fn list_devices(node: &Node, nonce: u8) -> (StatusCode, Option<DevicesResponse>) {
    let auth = SignedAuth::sign(node.signing_key(), "GET", "/devices", now_ms(), [nonce; 16]);
    let r = client()
        .get(format!("{}/devices", env("HUMANSYNC_DOCKER_URL")))
        .header("authorization", auth.to_header())
        .send()
        .await
        .expect("get");
    let status = r.status();
    (
        status,
        if status.is_success() {
            r.json().await.ok()
        } else {
            None
        },
    )
}

const BLOB: &[u8] = b"a blob that must survive a container restart";

/// An invitation minted on the server host: `docker exec … humansync-server invite` (HS-INV-2).
fn host_invitation() -> String {
    let out = std::process::Command::new("docker")
        .args([
            "exec",
            &env("HUMANSYNC_DOCKER_NAME"),
            "humansync-server",
            "invite",
            "--link-only",
        ])
        .args(["--public-url", &env("HUMANSYNC_DOCKER_URL")])
        .output()
        .expect("docker exec runs");
    assert!(
        out.status.success(),
        "invite failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// Phase 1: one device pairs by password (OPAQUE over plain http to the container's bridge
/// address), one by an invitation minted in the container; both sync a document and a blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/docker-test.sh against a container"]
async fn docker_phase1_pair_and_sync() {
    let server = health().await.node_id;
    let a = device("a").await;
    let b = device("b").await;
    a.pair(&env("HUMANSYNC_DOCKER_PASSWORD"))
        .await
        .expect("a pairs by password");
    let link = host_invitation();
    assert!(link.starts_with("humansync://pair?v=1&"), "{link}");
    b.pair_with_invitation(&link)
        .await
        .expect("b pairs by invitation");
    assert!(
        b.pair_with_invitation(&link).await.is_err(),
        "an invitation is single-use"
    );
    eventually(30, "devices connected to the container", || async {
        connected(&a, server).await && connected(&b, server).await
    })
    .await;
    eventually(30, "devices home on the container's own relay", || async {
        home_relay(&a).await == Some(container_relay()) && home_relay(&b).await == Some(container_relay())
    })
    .await;
    let note = a.open_doc("notes/docker").await.expect("open");
    note.put("title", "from the host").await.expect("put");
    let path = state().join("blob.bin");
    std::fs::write(&path, BLOB).expect("write");
    let hash = a.store_blob(&path).await.expect("store");
    note.put_blob("file", hash).await.expect("put blob");
    eventually(60, "B received the note through the container", || async {
        title(&b, "notes/docker").await.as_deref() == Some("from the host")
    })
    .await;
    // The container fetches the blob from A after it has the note; B asks until it holds it.
    eventually(60, "B fetched the blob from the container", || async {
        b.get_blob(hash).await.is_ok()
    })
    .await;
    let got = b.get_blob(hash).await.expect("B holds the blob");
    assert_eq!(std::fs::read(got).expect("read"), BLOB);
    // B may have fetched the blob from A directly; phase 2 needs the container to hold it, so
    // A and B stay online until it says it does (it fetches from either of them).
    eventually(60, "the container fetched the blob", || async {
        container_fetched(hash)
    })
    .await;
    std::fs::write(state().join("server_id"), server.to_string()).expect("write");
    std::fs::write(state().join("blob_hash"), hash.to_string()).expect("write");
    a.shutdown().await.expect("shutdown");
    b.shutdown().await.expect("shutdown");
}

/// Phase 2 (after `docker restart`): same identity, registry and data; then a revoked device is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/docker-test.sh against a container"]
async fn docker_phase2_persisted_then_revoked() {
    let server: DeviceId = std::fs::read_to_string(state().join("server_id"))
        .expect("phase 1 ran")
        .parse()
        .expect("id");
    let hash: BlobHash = std::fs::read_to_string(state().join("blob_hash"))
        .expect("phase 1 ran")
        .parse()
        .expect("hash");
    assert_eq!(health().await.node_id, server, "same identity after the restart");
    // The registry persisted: A, paired before the restart, still lists both devices.
    let a = device("a").await;
    let (status, listed) = list_devices(&a, 1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.expect("body").devices.len(), 2);
    a.shutdown().await.expect("shutdown");
    // The data persisted: a new device, with A and B offline, gets the note and blob from the container.
    let c = device("c").await;
    c.pair(&env("HUMANSYNC_DOCKER_PASSWORD")).await.expect("c pairs");
    eventually(60, "C received the note from the restarted container", || async {
        title(&c, "notes/docker").await.as_deref() == Some("from the host")
    })
    .await;
    eventually(60, "C fetched the blob from the container", || async {
        c.get_blob(hash).await.is_ok()
    })
    .await;
    let got = c.get_blob(hash).await.expect("C holds the blob");
    assert_eq!(std::fs::read(got).expect("read"), BLOB);
    // A revokes C through the API (an OPAQUE login signed by A): C's session closes, it is refused.
    let a = device("a").await;
    let revoked = a
        .revoke_device(c.id(), &env("HUMANSYNC_DOCKER_PASSWORD"), None)
        .await
        .expect("revoke");
    assert_eq!(revoked.node_id, c.id());
    a.shutdown().await.expect("shutdown");
    eventually(15, "C's session closed", || async {
        !connected(&c, server).await
    })
    .await;
    assert_eq!(list_devices(&c, 2).await.0, StatusCode::FORBIDDEN);
    eventually(30, "the container's relay dropped C", || async {
        home_relay(&c).await.is_none()
    })
    .await;
    let err = c
        .pair(&env("HUMANSYNC_DOCKER_PASSWORD"))
        .await
        .expect_err("a revoked id cannot pair again");
    assert!(err.to_string().contains("revoked"), "{err}");
    c.shutdown().await.expect("shutdown");
}
