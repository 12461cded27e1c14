//! Document digests, item fingerprints and set summaries (HS-RECON-1, HS-RECON-2).

use humansync_protocol::digest;
use humansync_protocol::{ChangeHash, DocDigest, DocId};
use humansync_sansio::recon::DocSet;
use serde_json::{Value, json};

use super::Observed;
use crate::format::Case;

/// A list field of `{"doc": id, "digest": hex}` objects.
pub(crate) fn items_field(case: &Case, name: &str) -> Result<Vec<(DocId, DocDigest)>, String> {
    case.field(name)?
        .as_array()
        .ok_or_else(|| format!("field `{name}` is not a list"))?
        .iter()
        .map(parse_item)
        .collect()
}

fn parse_item(v: &Value) -> Result<(DocId, DocDigest), String> {
    let doc = v["doc"].as_str().ok_or("item without `doc`")?;
    let digest = v["digest"].as_str().ok_or("item without `digest`")?;
    Ok((
        DocId::new(doc).map_err(|e| format!("item doc {doc:?}: {e}"))?,
        digest.parse().map_err(|e| format!("item digest: {e}"))?,
    ))
}

/// `heads_digest`: `heads` is a list of 32-byte change hashes (hex), in any
/// order. `expected = {"digest": "<32 hex>"}`.
pub(crate) fn heads_digest(case: &Case) -> Result<Observed, String> {
    let heads = case
        .field("heads")?
        .as_array()
        .ok_or("field `heads` is not a list")?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| s.parse::<ChangeHash>().ok())
                .ok_or_else(|| "a head is not 64 hex".to_owned())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Observed::accept(
        json!({"digest": digest::heads_digest(&heads).to_string()}),
    ))
}

/// `item_fingerprint`: `doc` and `digest`. `expected = {"fingerprint": "<32 hex>"}`.
pub(crate) fn item_fingerprint(case: &Case) -> Result<Observed, String> {
    let (doc, digest) = parse_item(&Value::Object(
        [
            ("doc".to_owned(), case.field("doc")?.clone()),
            ("digest".to_owned(), case.field("digest")?.clone()),
        ]
        .into_iter()
        .collect(),
    ))?;
    let fp = digest::item_fingerprint(&doc, &digest);
    Ok(Observed::accept(json!({"fingerprint": fp.to_string()})))
}

/// `set_summary`: `items` is a document set. `expected = {"count": n, "fingerprint": "<32 hex>"}`.
pub(crate) fn set_summary(case: &Case) -> Result<Observed, String> {
    let set: DocSet = items_field(case, "items")?.into_iter().collect();
    let summary = set.summary();
    Ok(Observed::accept(
        json!({"count": summary.count, "fingerprint": summary.fingerprint.to_string()}),
    ))
}
