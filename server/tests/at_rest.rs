//! Data at rest on the server binary (issue 21, HS-REST-2, HS-REST-3, HS-REST-4, HS-REST-6):
//! `humansync-server --data-key file:<key>` (a Docker secret's shape) keeps a device's note and
//! attachment sealed. After a device synced both to it and the server stopped, no byte or file
//! name under its data directory holds the note's title, body or id, or the attachment's bytes;
//! started again with the same key it still serves both to a new device.

mod support;

use std::path::Path;

use humansync::{HumanSyncConfig, Node, RelayConfig};
use humansync_benchkit::at_rest::needles_under;
use humansync_benchkit::server_process::{ServerProcess, free_port};
use support::{PASSWORD, eventually};

const TITLE: &str = "Minutes of the Zanzibar lighthouse committee";
const BODY: &str = "the keeper asks for ninety-one brass lanterns";
const DOC: &str = "notes/zanzibar-minutes";
/// A phrase that appears only in the attachment's bytes.
const ATTACHMENT: &str = "logbook of the brass lanterns, folio forty-two";

fn device_config(dir: &Path, url: &str) -> HumanSyncConfig {
    let mut config = HumanSyncConfig::new(dir);
    config.bind_addr = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    config.mdns = false;
    config.interval_secs = 1;
    config.server_url = Some(url.to_owned());
    config
}

/// The server binary on `data` with its data key in `key_file` and metrics on `metrics`.
fn start(data: &Path, key_file: &Path, metrics: &str) -> ServerProcess {
    let key = format!("file:{}", key_file.display());
    ServerProcess::start_with(
        Path::new(env!("CARGO_BIN_EXE_humansync-server")),
        data,
        PASSWORD,
        &["--data-key", &key, "--metrics-addr", metrics],
    )
}

/// The value of the unlabelled gauge or counter `name` on the metrics listener, if it answers.
async fn metric(metrics: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn title_of(node: &Node) -> Option<String> {
    node.open_doc(DOC)
        .await
        .ok()?
        .get::<String>("title")
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_with_a_data_key_stores_documents_and_blobs_sealed() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("server");
    // Outside the data directory, as a Docker secret is.
    let key_file = dir.path().join("data-key");
    std::fs::write(&key_file, hex::encode([0x2a_u8; 32])).expect("write key");
    let metrics = free_port().to_string();
    let server = start(&data, &key_file, &metrics);

    let a = humansync::init(device_config(&dir.path().join("a"), &server.url()))
        .await
        .expect("a starts");
    a.pair(PASSWORD).await.expect("a pairs");
    let note = a.open_doc(DOC).await.expect("doc");
    note.put("title", TITLE).await.expect("put");
    note.put("body", BODY).await.expect("put");
    let path = dir.path().join("logbook.txt");
    std::fs::write(&path, ATTACHMENT.repeat(4_000)).expect("write attachment");
    let hash = a.store_blob(&path).await.expect("store blob");
    note.put_blob("attachment", hash).await.expect("put blob");
    // The blob is referenced from the note: the server holds it once it has the note too.
    eventually(60, "the server holds the attachment", || async {
        metric(&metrics, "humansync_blobs_held").await == Some(1.0)
            && metric(&metrics, "humansync_blobs_missing").await == Some(0.0)
    })
    .await;
    a.shutdown().await.expect("a stops");
    assert!(server.terminate(), "the server stops cleanly on SIGTERM");

    let node_dir = data.join(humansync_server::server::NODE_DIR);
    assert!(node_dir.join("blobs-sealed").is_dir(), "a sealed blob store");
    assert!(!node_dir.join("blobs").exists(), "no plain blob store");
    let needles = [TITLE, BODY, DOC, "zanzibar", ATTACHMENT].map(str::as_bytes);
    assert_eq!(needles_under(&data, &needles, |_| true), Vec::<String>::new());

    // Same key, new device: the server serves what it sealed.
    let server = start(&data, &key_file, &metrics);
    let b = humansync::init(device_config(&dir.path().join("b"), &server.url()))
        .await
        .expect("b starts");
    b.pair(PASSWORD).await.expect("b pairs");
    eventually(60, "B gets the note from the server", || async {
        title_of(&b).await.as_deref() == Some(TITLE)
    })
    .await;
    eventually(60, "B gets the attachment from the server", || async {
        b.blob_progress(hash).await.is_ok_and(|p| p.complete)
    })
    .await;
    b.shutdown().await.expect("b stops");
    assert!(server.terminate(), "the server stops cleanly on SIGTERM");
    assert_eq!(needles_under(&data, &needles, |_| true), Vec::<String>::new());
}
