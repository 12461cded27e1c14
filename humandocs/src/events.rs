//! Library events as JSON (for `watch` and the logs) and as text (for the interactive UI).

use humansync::{Event, Origin};
use serde_json::{Value, json};

use crate::ids;

fn origin(o: &Origin) -> String {
    match o {
        Origin::Local => "local".to_owned(),
        Origin::Remote(peer) => peer.to_string(),
    }
}

/// One event as a JSON object with an `event` field, or `None` for events of no interest to
/// Humandocs (documents of other apps).
pub fn to_json(event: &Event) -> Option<Value> {
    let ours = |doc: &humansync::DocId| doc.as_str().starts_with(ids::DOC_PREFIX);
    Some(match event {
        Event::PeerConnected(p) => json!({ "event": "peer-connected", "peer": p.to_string() }),
        Event::PeerDisconnected { peer, code } => {
            json!({ "event": "peer-disconnected", "peer": peer.to_string(), "code": format!("{code:?}") })
        }
        Event::DocChanged { doc, origin: o } if ours(doc) => {
            json!({ "event": "doc-changed", "id": doc.to_string(), "origin": origin(o) })
        }
        Event::DocDeleted { doc, origin: o } if ours(doc) => {
            json!({ "event": "doc-deleted", "id": doc.to_string(), "origin": origin(o) })
        }
        Event::DocCorrupt { doc, reason } => {
            json!({ "event": "doc-corrupt", "id": doc.to_string(), "reason": reason })
        }
        Event::DocTooLarge { doc, bytes } => {
            json!({ "event": "doc-too-large", "id": doc.to_string(), "bytes": bytes })
        }
        Event::BlobArrived(h) => json!({ "event": "blob-arrived", "hash": h.to_string() }),
        Event::DeviceAdded(d) => json!({ "event": "device-added", "device": d.to_string() }),
        Event::DeviceRevoked(d) => json!({ "event": "device-revoked", "device": d.to_string() }),
        Event::Reconciled(p) => json!({ "event": "reconciled", "peer": p.to_string() }),
        _ => return None,
    })
}

/// A short human line for a remote change, or `None` for local changes and quiet events.
pub fn describe_remote(event: &Event) -> Option<String> {
    let short_peer = |p: &humansync::DeviceId| p.to_string().chars().take(8).collect::<String>();
    match event {
        Event::DocChanged {
            doc,
            origin: Origin::Remote(p),
        } if doc.as_str().starts_with(ids::DOC_PREFIX) => Some(format!(
            "changed remotely by {}: {}",
            short_peer(p),
            ids::short(doc.as_str())
        )),
        Event::DocDeleted {
            doc,
            origin: Origin::Remote(p),
        } if doc.as_str().starts_with(ids::DOC_PREFIX) => Some(format!(
            "deleted remotely by {}: {}",
            short_peer(p),
            ids::short(doc.as_str())
        )),
        Event::PeerConnected(p) => Some(format!("peer {} connected", short_peer(p))),
        Event::PeerDisconnected { peer, .. } => Some(format!("peer {} disconnected", short_peer(peer))),
        Event::BlobArrived(h) => Some(format!("attachment {} arrived", &h.to_string()[..8])),
        Event::DeviceRevoked(d) => Some(format!("device {} was revoked", short_peer(d))),
        _ => None,
    }
}
