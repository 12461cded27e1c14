//! `humansync-conformance peer` against a real library node: a `humansync` node on 127.0.0.1
//! (real iroh, relays and mDNS off, real on-disk store) paired with a test anchor, and the
//! runner binary pointed at it with the anchor's key file. Every check must pass; the node's
//! own API then confirms what the runner saw over the wire.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use humansync::protocol::http::PairResponse;
use humansync::protocol::{DeviceId, RegistryRecord};
use humansync::{HumanSyncConfig, Node, RelayConfig};
use serde_json::Value;

const ANCHOR_SEED: [u8; 32] = [0x5a; 32];

/// A started node paired with the anchor of `seed` (the runner gets the same seed).
async fn paired_node(dir: &Path, seed: [u8; 32]) -> Node {
    let mut config = HumanSyncConfig::new(dir.join("node"));
    config.bind_addr = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config.mdns = false;
    config.interval_secs = 2;
    let node = humansync::init(config).await.expect("node starts");
    let anchor = SigningKey::from_bytes(&seed);
    let record = RegistryRecord::Device {
        device: node.id(),
        name: "node under test".into(),
        paired_at_ms: 1,
    };
    let signed = record.sign(&anchor).expect("sign");
    node.apply_pairing(PairResponse {
        server_node_id: DeviceId::from(&anchor),
        server_addrs: Vec::new(),
        relay_url: None,
        devices: Vec::new(),
        records: vec![hex::encode(signed.encode())],
    })
    .await
    .expect("pair");
    node
}

/// Runs the runner binary; returns its exit code and stdout.
async fn run_peer(node: &Node, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "peer".to_owned(),
        "--node-id".to_owned(),
        node.id().to_string(),
        "--json".to_owned(),
    ];
    for addr in node.addrs() {
        args.push("--addr".into());
        args.push(addr.to_string());
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let out = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_humansync-conformance"))
            .args(&args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the runner finishes")
    .expect("the runner starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Verdict per case id.
fn verdicts(stdout: &str) -> BTreeMap<String, String> {
    let report: Value = serde_json::from_str(stdout).expect("JSON report");
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().expect("id").to_owned(),
                c["verdict"].as_str().expect("verdict").to_owned(),
            )
        })
        .collect()
}

/// HS-GATE-2..4, HS-VER-1..3, HS-FRAME-2/3, HS-REG-10, HS-RECON-*, HS-SYNC-*, HS-BLOB-3: the
/// full peer run against a paired library node passes every case, the transport (HS-TRANSPORT-2,
/// HS-TRANSPORT-4), BlobWant / BlobHave (HS-BLOB-2) and live push (HS-SYNC-4) cases included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_peer_check_passes_against_a_library_node() {
    let dir = tempfile::tempdir().expect("dir");
    let node = paired_node(dir.path(), ANCHOR_SEED).await;
    // Something for the runner to receive: a document referencing a blob.
    let file = dir.path().join("blob.bin");
    std::fs::write(&file, b"a blob the conformance runner fetches").expect("write");
    let blob = node.store_blob(&file).await.expect("store blob");
    let doc = node.open_doc("notes/from-node").await.expect("open");
    doc.put("title", "hello").await.expect("put");
    doc.put_blob("attachment", blob).await.expect("put blob");

    let key_file = dir.path().join("anchor.key");
    std::fs::write(&key_file, hex::encode(ANCHOR_SEED)).expect("key file");
    let (code, stdout, stderr) =
        run_peer(&node, &["--anchor-key-file", key_file.to_str().expect("utf-8")]).await;
    println!("{stdout}");
    let verdicts = verdicts(&stdout);
    // HS-SYNC-12: garbage DocWhole bytes are refused, never stored and re-served.
    assert_eq!(
        verdicts.get("doc/unloadable-discarded").map(String::as_str),
        Some("pass"),
        "{stdout}"
    );
    let not_passed: Vec<_> = verdicts.iter().filter(|(_, v)| *v != "pass").collect();
    assert!(
        not_passed.is_empty(),
        "cases not passed: {not_passed:?}\n{stdout}\n{stderr}"
    );
    assert_eq!(code, 0, "{stderr}");
    for id in [
        "gate/unregistered",
        "handshake/unsupported-version",
        "handshake/not-hello-first",
        "handshake/second-hello",
        "handshake/deadline",
        "handshake/v1",
        "handshake/devices-first",
        "frame/too-large",
        "frame/zero-length",
        "frame/unknown-variant",
        "sync/converge",
        "blob/registered-fetch",
        "blob/unregistered",
        "gate/revoked-disconnected",
        "gate/revoked-refused",
        "doc/docsync-creates",
        "doc/tombstone-answers-deleted",
        // HS-TRANSPORT-2, HS-TRANSPORT-4, HS-BLOB-2, HS-SYNC-4
        "transport/extra-stream",
        "transport/duplicate-session",
        "blob/want-have",
        "sync/live-push",
    ] {
        assert!(verdicts.contains_key(id), "case {id} missing: {verdicts:?}");
    }

    // The runner's three documents reached the node (seen through the node's own API).
    let docs = node.list_docs("conformance/").await.expect("list");
    let synced = docs.iter().filter(|d| d.as_str().contains("/doc-")).count();
    assert_eq!(synced, 3, "{docs:?}");
    node.shutdown().await.expect("shutdown");
}

/// Without a registration the runner checks only what an unregistered id can, skips the rest
/// with a reason, and passes; with the wrong anchor key it cannot register and exits 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_only_and_wrong_anchor() {
    let dir = tempfile::tempdir().expect("dir");
    let node = paired_node(dir.path(), ANCHOR_SEED).await;

    let (code, stdout, stderr) = run_peer(&node, &[]).await;
    let verdicts = verdicts(&stdout);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        verdicts.get("gate/unregistered").map(String::as_str),
        Some("pass")
    );
    assert_eq!(
        verdicts.get("blob/unregistered").map(String::as_str),
        Some("pass")
    );
    assert_eq!(verdicts.get("sync/converge").map(String::as_str), Some("skipped"));

    let key_file = dir.path().join("other.key");
    std::fs::write(&key_file, hex::encode([0x11_u8; 32])).expect("key file");
    let (code, _, stderr) = run_peer(&node, &["--anchor-key-file", key_file.to_str().expect("utf-8")]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("anchor"), "{stderr}");
    node.shutdown().await.expect("shutdown");
}
