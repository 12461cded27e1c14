//! The language-neutral JSON representation of protocol values used in the
//! vectors' `expected` fields (conformance/README.md, "JSON representation").
//!
//! Rules: tagged unions are objects with a `"type"` member naming the variant
//! as SPEC.md §9 does; byte strings and fixed-size ids are lowercase hex
//! strings; document ids and text are JSON strings; integers are JSON numbers
//! (every value in the vectors is below 2^53).

use humansync_protocol::{Bound, DocDigest, DocId, Item, Message, RangeEntry, RangeMode, RegistryRecord};
use humansync_sansio::recon::ReconAction;
use serde_json::{Value, json};

/// A message as JSON: `{"type": "<Variant>", ..fields}`.
pub fn message(msg: &Message) -> Value {
    match msg {
        Message::Hello {
            versions,
            set,
            devices,
        } => json!({
            "type": "Hello",
            "versions": versions,
            "set": {"count": set.count, "fingerprint": set.fingerprint.to_string()},
            "devices": devices.to_string(),
        }),
        Message::Welcome {
            version,
            set,
            devices,
        } => json!({
            "type": "Welcome",
            "version": version,
            "set": {"count": set.count, "fingerprint": set.fingerprint.to_string()},
            "devices": devices.to_string(),
        }),
        Message::Reconcile { ranges } => json!({
            "type": "Reconcile",
            "ranges": ranges.iter().map(range).collect::<Vec<_>>(),
        }),
        Message::DocSync { doc, message } => json!({
            "type": "DocSync",
            "doc": doc.as_str(),
            "message": hex::encode(message),
        }),
        Message::DocWhole {
            doc,
            heads,
            blobs,
            bytes,
        } => json!({
            "type": "DocWhole",
            "doc": doc.as_str(),
            "heads": heads.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            "blobs": blobs.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            "bytes": hex::encode(bytes),
        }),
        Message::DocWant { docs } => json!({
            "type": "DocWant",
            "docs": docs.iter().map(DocId::as_str).collect::<Vec<_>>(),
        }),
        Message::DocMissing { doc } => json!({"type": "DocMissing", "doc": doc.as_str()}),
        Message::DocDeleted { doc } => json!({"type": "DocDeleted", "doc": doc.as_str()}),
        Message::BlobWant { hashes } => json!({
            "type": "BlobWant",
            "hashes": hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        }),
        Message::BlobHave { hashes } => json!({
            "type": "BlobHave",
            "hashes": hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        }),
        Message::Close { code, reason } => json!({"type": "Close", "code": code.0, "reason": reason}),
        Message::Resume { cursor } => json!({
            "type": "Resume",
            "cursor": cursor.map(|c| json!({"epoch": c.epoch, "seq": c.seq})),
        }),
        Message::Resumed { complete } => json!({"type": "Resumed", "complete": complete}),
        Message::DocChanges { doc, bytes } => json!({
            "type": "DocChanges",
            "doc": doc.as_str(),
            "bytes": hex::encode(bytes),
        }),
        Message::Synced { cursor, set } => json!({
            "type": "Synced",
            "cursor": {"epoch": cursor.epoch, "seq": cursor.seq},
            "set": {"count": set.count, "fingerprint": set.fingerprint.to_string()},
        }),
        Message::Held { count, refused } => json!({
            "type": "Held",
            "count": count,
            "refused": refused,
        }),
    }
}

/// A reconciliation range: `{"upper": <bound>, "mode": <mode>}`.
pub fn range(entry: &RangeEntry) -> Value {
    let upper = match &entry.upper {
        Bound::Key(key) => json!({"type": "Key", "key": hex::encode(key)}),
        Bound::End => json!({"type": "End"}),
    };
    let mode = match &entry.mode {
        RangeMode::Skip => json!({"type": "Skip"}),
        RangeMode::Fingerprint { count, fingerprint } => json!({
            "type": "Fingerprint",
            "count": count,
            "fingerprint": fingerprint.to_string(),
        }),
        RangeMode::Items(items) => json!({
            "type": "Items",
            "items": items.iter().map(item).collect::<Vec<_>>(),
        }),
    };
    json!({"upper": upper, "mode": mode})
}

/// A set member: `{"doc": "<id>", "digest": "<32 hex>"}`.
pub fn item(item: &Item) -> Value {
    doc_digest(&item.doc, &item.digest)
}

/// `{"doc": "<id>", "digest": "<32 hex>"}`.
pub fn doc_digest(doc: &DocId, digest: &DocDigest) -> Value {
    json!({"doc": doc.as_str(), "digest": digest.to_string()})
}

/// A registry record: `{"type": "Device", "device", "name", "paired_at_ms"}` or
/// `{"type": "Revoked", "device", "revoked_at_ms"}`.
pub fn record(record: &RegistryRecord) -> Value {
    match record {
        RegistryRecord::Device {
            device,
            name,
            paired_at_ms,
        } => json!({
            "type": "Device",
            "device": device.to_string(),
            "name": name,
            "paired_at_ms": paired_at_ms,
        }),
        RegistryRecord::Revoked {
            device,
            revoked_at_ms,
        } => json!({
            "type": "Revoked",
            "device": device.to_string(),
            "revoked_at_ms": revoked_at_ms,
        }),
    }
}

/// A reconciliation action as the reference core names it: `{"action": "<snake_case>", "doc": "<id>"}`.
pub fn action(action: &ReconAction) -> Value {
    let name = match action {
        ReconAction::SendWhole(_) => "send_whole",
        ReconAction::SendDeleted(_) => "send_deleted",
        ReconAction::Want(_) => "want",
        ReconAction::RecordTombstone(_) => "record_tombstone",
        ReconAction::DeleteLocal(_) => "delete_local",
        ReconAction::Sync(_) => "sync",
    };
    json!({"action": name, "doc": action.doc().as_str()})
}
