//! digests.json: heads → DocDigest, (id, digest) → item fingerprint, sets → SetSummary
//! (HS-RECON-1, HS-RECON-2).

use humansync_protocol::digest::{heads_digest, item_fingerprint};
use humansync_protocol::limits::MAX_DOC_ID_LEN;
use humansync_protocol::{ChangeHash, DocDigest, DocId};
use humansync_sansio::recon::DocSet;
use serde_json::{Value, json};

use super::{Cases, doc};
use crate::format::{Case, Expect};
use crate::{keys, repr};

pub(crate) const DESCRIPTION: &str = "Digests. `heads_digest`: BLAKE3(\"humansync/heads/v1\\0\" || heads sorted \
bytewise)[..16]. `item_fingerprint`: BLAKE3(\"humansync/item/v1\\0\" || u8 len(id) || id || digest)[..16]. \
`set_summary`: count and XOR of the item fingerprints (all zero for the empty set).";

fn heads(c: &mut Cases, what: &str, hs: &[ChangeHash]) {
    let list: Vec<String> = hs.iter().map(|h| h.to_string()).collect();
    c.push(
        Case::new(
            String::new(),
            "heads_digest",
            &["HS-RECON-1"],
            what,
            Expect::Valid,
        )
        .with("heads", list)
        .expect(json!({"digest": heads_digest(hs).to_string()})),
    );
}

fn item(c: &mut Cases, what: &str, id: &DocId, digest: DocDigest) {
    c.push(
        Case::new(
            String::new(),
            "item_fingerprint",
            &["HS-RECON-2"],
            what,
            Expect::Valid,
        )
        .with("doc", id.as_str())
        .with("digest", digest.to_string())
        .expect(json!({"fingerprint": item_fingerprint(id, &digest).to_string()})),
    );
}

fn set(c: &mut Cases, what: &str, items: &[(DocId, DocDigest)]) {
    let s: DocSet = items.iter().cloned().collect();
    let summary = s.summary();
    let list: Vec<Value> = items.iter().map(|(d, g)| repr::doc_digest(d, g)).collect();
    c.push(
        Case::new(String::new(), "set_summary", &["HS-RECON-1"], what, Expect::Valid)
            .with("items", list)
            .expect(json!({"count": summary.count, "fingerprint": summary.fingerprint.to_string()})),
    );
}

/// Every digests.json case.
pub(crate) fn cases() -> Cases {
    let mut c = Cases::new("digest");
    let (h1, h2, h3) = (keys::change("h1"), keys::change("h2"), keys::change("h3"));
    heads(&mut c, "no heads (an empty document)", &[]);
    heads(&mut c, "one head", &[h1]);
    heads(&mut c, "two heads in ascending order", &sorted(&[h1, h2]));
    heads(
        &mut c,
        "the same two heads in descending order: same digest",
        &rsorted(&[h1, h2]),
    );
    heads(&mut c, "three heads", &[h3, h1, h2]);
    heads(&mut c, "the all-zero hash", &[ChangeHash([0; 32])]);

    let d = keys::digest("h1");
    item(&mut c, "a short id with a live digest", &doc("a"), d);
    item(
        &mut c,
        "an app id with a live digest",
        &doc("notes/shopping-list"),
        d,
    );
    item(
        &mut c,
        "the same id with the tombstone digest",
        &doc("notes/shopping-list"),
        DocDigest::TOMBSTONE,
    );
    item(
        &mut c,
        "the registry document",
        &doc("_devices"),
        heads_digest(&[]),
    );
    item(
        &mut c,
        "an id of MAX_DOC_ID_LEN (200) bytes (length byte 0xc8)",
        &doc(&"z".repeat(MAX_DOC_ID_LEN)),
        d,
    );

    let a = (doc("notes/a"), keys::digest("a"));
    let b = (doc("notes/b"), keys::digest("b"));
    let t = (doc("notes/t"), DocDigest::TOMBSTONE);
    set(&mut c, "the empty set", &[]);
    set(
        &mut c,
        "one document: the fingerprint is its item fingerprint",
        std::slice::from_ref(&a),
    );
    set(&mut c, "two documents", &[a.clone(), b.clone()]);
    set(
        &mut c,
        "the same two documents listed in the other order",
        &[b.clone(), a.clone()],
    );
    set(&mut c, "two live documents and a tombstone", &[a, b, t]);
    let many: Vec<(DocId, DocDigest)> = (0..100)
        .map(|i| (doc(&format!("app/doc-{i:03}")), keys::digest(&format!("v{i}"))))
        .collect();
    set(&mut c, "100 documents", &many);
    c
}

fn sorted(hs: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut v = hs.to_vec();
    v.sort();
    v
}

fn rsorted(hs: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut v = sorted(hs);
    v.reverse();
    v
}
