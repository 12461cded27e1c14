//! Data at rest on a running node (issue 21): after a real sync workload no note title, body or
//! document id is found in any byte or file name under the document store (HS-REST-3,
//! HS-REST-4), and no attachment bytes anywhere under the storage directory but the explicit
//! export `blobs-out/` (HS-REST-6); a plain store is migrated at start, blobs too, and a wrong
//! device key is refused with an error naming the key check (HS-REST-2).

mod node_support;

use humansync::{HumanSyncConfig, KeySource};
use humansync_benchkit::at_rest::{files_under, needles_under};
use node_support::*;

const TITLE: &str = "Minutes of the Kilimanjaro steering committee";
const BODY: &str = "the treasurer proposes seventeen marmalade jars";
const DOC: &str = "notes/kilimanjaro-minutes";

/// Every needle found in a file's bytes or name under `dir`.
fn plaintext_under(dir: &std::path::Path) -> Vec<String> {
    let needles = [TITLE, BODY, DOC, "kilimanjaro"].map(str::as_bytes);
    needles_under(dir, &needles, |_| true)
}

async fn write_note(node: &humansync::Node) {
    let doc = node.open_doc(DOC).await.expect("doc");
    doc.put("title", TITLE).await.expect("put");
    doc.put("body", BODY).await.expect("put");
}

/// A phrase that appears only in the attachment's bytes.
const ATTACHMENT: &str = "scanned receipt of the marmalade jars, folio nineteen";

/// An attachment of about 200 KB (many chunk groups) made of the phrase, stored on `node` and
/// referenced from the note, so that every peer fetches it.
async fn attach(node: &humansync::Node, files: &std::path::Path) -> humansync::protocol::BlobHash {
    let path = files.join("receipt.txt");
    std::fs::write(&path, ATTACHMENT.repeat(4_000)).expect("write attachment");
    let hash = node.store_blob(&path).await.expect("store blob");
    let doc = node.open_doc(DOC).await.expect("doc");
    doc.put_blob("attachment", hash).await.expect("put blob");
    hash
}

/// Every file under the storage directory `dir` holding the attachment's bytes, except the
/// explicit exports in `blobs-out/`.
fn attachment_under(dir: &std::path::Path) -> Vec<String> {
    needles_under(dir, &[ATTACHMENT.as_bytes()], |p| {
        !p.starts_with(dir.join("blobs-out"))
    })
}

async fn title_of(node: &humansync::Node) -> Option<String> {
    node.open_doc(DOC)
        .await
        .ok()?
        .get::<String>("title")
        .await
        .ok()
        .flatten()
}

/// Two devices sync a note; the receiving device's store, while it runs and after it stopped,
/// holds none of its text or id. A plain device store (encryption off) shows them: the grep can
/// fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_in_a_device_store_after_syncing() {
    let (da, db, _anchor, a, b) = paired_pair(21).await;
    let files = tempfile::tempdir().expect("dir");
    write_note(&a).await;
    let hash = attach(&a, files.path()).await;
    eventually(10, "B holds the note", || async {
        title_of(&b).await.as_deref() == Some(TITLE)
    })
    .await;
    eventually(20, "B holds the attachment", || async {
        b.blob_progress(hash).await.is_ok_and(|p| p.complete)
    })
    .await;
    assert_eq!(
        plaintext_under(&db.path().join("store")),
        Vec::<String>::new(),
        "while running"
    );
    assert_eq!(attachment_under(db.path()), Vec::<String>::new(), "while running");
    // The explicit export is where the bytes are meant to be.
    let out = b.get_blob(hash).await.expect("get_blob");
    assert!(out.starts_with(db.path().join("blobs-out")), "{}", out.display());
    a.shutdown().await.expect("shutdown");
    b.shutdown().await.expect("shutdown");
    for dir in [&da, &db] {
        assert_eq!(plaintext_under(&dir.path().join("store")), Vec::<String>::new());
        assert_eq!(attachment_under(dir.path()), Vec::<String>::new());
    }

    let plain = tempfile::tempdir().expect("dir");
    let mut config: HumanSyncConfig = config(plain.path());
    config.data_key = KeySource::Off;
    let node = humansync::init(config).await.expect("starts");
    write_note(&node).await;
    let hash = attach(&node, files.path()).await;
    node.shutdown().await.expect("shutdown");
    assert!(
        !plaintext_under(&plain.path().join("store")).is_empty(),
        "plain store shows the note"
    );
    assert!(
        !attachment_under(plain.path()).is_empty(),
        "plain blob store shows the attachment"
    );

    // Turning encryption on migrates the plain stores at start: nothing lost, nothing left.
    let node = start(plain.path()).await;
    assert_eq!(title_of(&node).await.as_deref(), Some(TITLE));
    assert!(node.blob_progress(hash).await.expect("progress").complete);
    node.shutdown().await.expect("shutdown");
    assert_eq!(plaintext_under(&plain.path().join("store")), Vec::<String>::new());
    assert_eq!(attachment_under(plain.path()), Vec::<String>::new());
}

/// HS-REST-2: a device whose data key file was replaced does not start: the error names the
/// store's key check; the store is left as it was, and the right key opens it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_device_key_is_refused_and_names_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let node = start(dir.path()).await;
    write_note(&node).await;
    node.shutdown().await.expect("shutdown");
    let key_path = dir.path().join(humansync::keys::DATA_KEY_FILE);
    let right = std::fs::read(&key_path).expect("key");
    std::fs::write(&key_path, [0x33u8; 32]).expect("replace key");
    let err = humansync::init(config(dir.path())).await.err().expect("refused");
    assert!(err.to_string().contains("keycheck"), "{err}");
    std::fs::write(&key_path, right).expect("restore key");
    let node = start(dir.path()).await;
    assert_eq!(title_of(&node).await.as_deref(), Some(TITLE));
    node.shutdown().await.expect("shutdown");
}

/// HS-REST-6: a byte flipped in a device's sealed copy of an attachment is caught when the
/// attachment is read; the damaged chunk group is dropped and fetched again from the peer, and
/// `get_blob` returns the right bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_attachment_is_fetched_again_from_a_peer() {
    let (_da, db, _anchor, a, b) = paired_pair(23).await;
    let files = tempfile::tempdir().expect("dir");
    write_note(&a).await;
    let hash = attach(&a, files.path()).await;
    eventually(20, "B holds the attachment", || async {
        b.blob_progress(hash).await.is_ok_and(|p| p.complete)
    })
    .await;
    b.shutdown().await.expect("shutdown");
    let data: Vec<_> = files_under(&db.path().join("blobs-sealed"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "data"))
        .collect();
    assert_eq!(data.len(), 1, "{data:?}");
    let mut bytes = std::fs::read(&data[0]).expect("read");
    bytes[5 * (16 * 1024 + 28) + 77] ^= 0x04;
    std::fs::write(&data[0], bytes).expect("tamper");

    let b = start(db.path()).await;
    introduce(&[&a, &b]).await;
    eventually(10, "B is connected to A", || async {
        b.sync_status().await.is_ok_and(|s| !s.peers.is_empty())
    })
    .await;
    let out = b.get_blob(hash).await.expect("fetched again from A");
    assert_eq!(
        std::fs::read(&out).expect("out"),
        ATTACHMENT.repeat(4_000).into_bytes()
    );
    a.shutdown().await.expect("shutdown");
    b.shutdown().await.expect("shutdown");
}
