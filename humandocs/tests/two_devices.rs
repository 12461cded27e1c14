//! Two real devices (humansync nodes over iroh on 127.0.0.1, relays off), paired by a test
//! anchor: documents, attachments, deletions and concurrent offline text edits reach both.

mod support;

use humansync::automerge::ROOT;
use humansync::automerge::transaction::Transactable;
use support::{TwoApps, eventually, introduce, start, two_paired_apps};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_of_one_body_both_survive() {
    // Both directories must outlive the apps: `_da` keeps A's alive (a `..` would drop it here).
    let TwoApps {
        a,
        b,
        dir_a: _da,
        dir_b: db,
    } = two_paired_apps(21).await;

    let doc = a.create("Shared", "hello world").await.expect("create");
    let id = doc.id.clone();
    eventually(20, "B has the document", || async {
        b.show(&id).await.is_ok_and(|d| d.view.body == "hello world")
    })
    .await;

    // B goes offline (shut down); both edit the same body at different places.
    let b_node = b.node().clone();
    b_node.shutdown().await.expect("shutdown b");
    a.splice(&id, 0, 0, "A says: ").await.expect("edit a");
    a.splice(&id, 8, 0, "").await.expect("empty splice is fine");
    let b = start(db.path()).await; // a new port: A cannot reach it until introduced again
    let edited = b.append(&id, " (and B)").await.expect("edit b offline");
    assert_eq!(edited.view.body, "hello world (and B)");
    let edited = b
        .splice(&id, 6, 5, "WORLD")
        .await
        .expect("replace a word offline");
    assert_eq!(edited.view.body, "hello WORLD (and B)");

    introduce(&a, &b).await;
    let merged = "A says: hello WORLD (and B)";
    for (name, app) in [("A", &a), ("B", &b)] {
        eventually(20, &format!("{name} holds both edits"), || async {
            app.show(&id).await.is_ok_and(|d| d.view.body == merged)
        })
        .await;
    }
    a.node().clone().shutdown().await.expect("shutdown a");
    b.node().clone().shutdown().await.expect("shutdown b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_titles_unknown_fields_and_deletes_reach_the_other_device() {
    let TwoApps {
        a,
        b,
        dir_a: da,
        dir_b: db,
    } = two_paired_apps(22).await;

    let doc = a.create("Photos", "").await.expect("create");
    let id = doc.id.clone();
    // A field from a future schema, written by "another version" on A (HS-DOC-4).
    a.node()
        .open_doc(&id)
        .await
        .expect("open")
        .change(|tx| tx.put(ROOT, "future_field", 42i64).map_err(|e| e.to_string()))
        .await
        .expect("future field");
    let photo = da.path().join("photo.ppm");
    let bytes: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&photo, &bytes).expect("write photo");
    let attached = a.attach(&id, &photo, None).await.expect("attach");
    assert_eq!((attached.name.as_str(), attached.size), ("photo.ppm", 600_000));
    assert_eq!(attached.mime, "image/x-portable-pixmap");

    eventually(20, "B sees the attachment", || async {
        b.show(&id).await.is_ok_and(|d| d.view.attachments.len() == 1)
    })
    .await;
    eventually(20, "B holds the photo", || async {
        b.attachment_ready(&id, "photo.ppm").await.unwrap_or(false)
    })
    .await;
    let out = db.path().join("copy.ppm");
    b.save_attachment(&id, "photo.ppm", &out).await.expect("save");
    assert_eq!(std::fs::read(&out).expect("read copy"), bytes, "byte-identical");

    // B edits the title; A's unknown field survives B's edits and comes back to A.
    b.set_title(&id, "Holiday photos").await.expect("title");
    eventually(20, "A sees B's title", || async {
        a.show(&id).await.is_ok_and(|d| d.view.title == "Holiday photos")
    })
    .await;
    let kept: Option<i64> = b
        .node()
        .open_doc(&id)
        .await
        .expect("open")
        .get("future_field")
        .await
        .expect("get");
    assert_eq!(kept, Some(42));

    // Deletion reaches every device (HS-DOC-5).
    a.delete(&id).await.expect("delete");
    eventually(20, "B no longer lists it", || async {
        b.list().await.is_ok_and(|l| l.is_empty())
    })
    .await;
    assert!(matches!(b.show(&id).await, Err(e) if e.code() == "not_found"));
    a.node().clone().shutdown().await.expect("shutdown a");
    b.node().clone().shutdown().await.expect("shutdown b");
}
