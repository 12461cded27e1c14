//! `humansync-conformance peer` against a real humansync-server (SQLite registry, argon2id
//! password, HTTP on 127.0.0.1, iroh on 127.0.0.1 with relays off): the runner pairs its own
//! keys with `POST /pair`, revokes one with `DELETE /devices/{id}`, and learns the server's id
//! and address from the pairing answer. Every check must pass.

use std::collections::BTreeMap;
use std::time::Duration;

use humansync::RelayConfig;
use humansync_server::{Overrides, ServerConfig};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

/// HS-HTTP-2, HS-HTTP-4, HS-GATE-2..4, HS-VER-1..3, HS-FRAME-2/3, HS-REG-10, HS-RECON-*,
/// HS-SYNC-*: the full peer run against the server passes every case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_peer_check_passes_against_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = ServerConfig::new(dir.path().join("server"));
    config.password = Some(PASSWORD.into());
    config.http_addr = "127.0.0.1:0".parse().expect("addr");
    config.iroh_port = 0;
    config.iroh_bind = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    let server = humansync_server::start(config, Overrides::default())
        .await
        .expect("server starts");
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, PASSWORD).expect("password file");

    let out = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_humansync-conformance"))
            .args(["peer", "--json", "--server-url"])
            .arg(format!("http://{}", server.http_addr()))
            .arg("--password-file")
            .arg(&password_file)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the runner finishes")
    .expect("the runner starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let verdicts: BTreeMap<String, String> = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().expect("id").to_owned(),
                c["verdict"].as_str().expect("verdict").to_owned(),
            )
        })
        .collect();
    let not_passed: Vec<_> = verdicts
        .iter()
        .filter(|(id, v)| {
            *v != "pass"
                // A fresh server's documents reference no blob: nothing to fetch.
                && !(id.as_str() == "blob/registered-fetch" && *v == "skipped")
        })
        .collect();
    assert!(
        not_passed.is_empty(),
        "cases not passed: {not_passed:?}\n{stdout}\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for id in [
        "gate/unregistered",
        "sync/converge",
        "gate/revoked-disconnected",
        "gate/revoked-refused",
        "handshake/deadline",
        "transport/extra-stream",
        "transport/duplicate-session",
        "blob/want-have",
        "sync/live-push",
    ] {
        assert!(verdicts.contains_key(id), "case {id} missing: {verdicts:?}");
    }
    server.shutdown().await.expect("shutdown");
}
