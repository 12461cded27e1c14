//! Range-based set reconciliation (HS-RECON-1..5), run with the reference
//! driver `humansync_sansio::recon::sim`.

use humansync_protocol::{DocDigest, DocId, Message};
use humansync_sansio::recon::sim::{self, Side, Transcript};
use humansync_sansio::recon::{DocSet, ReconAction, respond, separator as shortest_separator};
use serde_json::{Value, json};

use super::Observed;
use super::digests::items_field;
use crate::format::Case;
use crate::repr;

/// Messages after which a run that has not ended counts as not converging.
pub(crate) const MAX_MESSAGES: usize = 200;

/// `separator`: byte strings `a` < `b` (hex). `expected = {"key": "<hex>"}`, the
/// shortest prefix of `b` that sorts strictly above `a` (HS-RECON-2).
pub(crate) fn separator(case: &Case) -> Result<Observed, String> {
    let a = case.hex_field("a")?;
    let b = case.hex_field("b")?;
    if a >= b {
        return Err("`a` must sort below `b`".to_owned());
    }
    Ok(Observed::accept(
        json!({"key": hex::encode(shortest_separator(&a, &b))}),
    ))
}

fn sets(case: &Case) -> Result<(DocSet, DocSet), String> {
    Ok((
        items_field(case, "a")?.into_iter().collect(),
        items_field(case, "b")?.into_iter().collect(),
    ))
}

/// Where one document's difference flows, whichever side found it (HS-RECON-4):
/// `a_to_b`, `b_to_a`, `sync`, `tombstone_a_to_b` or `tombstone_b_to_a`.
pub(crate) fn outcome(side: Side, action: &ReconAction) -> &'static str {
    let (mine, theirs, tomb_mine, tomb_theirs) = match side {
        Side::A => ("a_to_b", "b_to_a", "tombstone_a_to_b", "tombstone_b_to_a"),
        Side::B => ("b_to_a", "a_to_b", "tombstone_b_to_a", "tombstone_a_to_b"),
    };
    match action {
        ReconAction::SendWhole(_) => mine,
        ReconAction::Want(_) => theirs,
        ReconAction::Sync(_) => "sync",
        ReconAction::SendDeleted(_) => tomb_mine,
        ReconAction::RecordTombstone(_) | ReconAction::DeleteLocal(_) => tomb_theirs,
    }
}

/// The difference between two sets as HS-RECON-4 defines it, straight from the
/// sets (no reconciliation): one entry per differing document, in id order.
pub(crate) fn expected_differences(a: &DocSet, b: &DocSet) -> Value {
    let mut ids: Vec<&DocId> = a.iter().chain(b.iter()).map(|(d, _)| d).collect();
    ids.sort();
    ids.dedup();
    let tomb = |d: DocDigest| d.is_tombstone();
    let out: Vec<Value> = ids
        .into_iter()
        .filter_map(|doc| {
            let outcome = match (a.get(doc), b.get(doc)) {
                (Some(x), Some(y)) if x == y => return None,
                (Some(x), None) if tomb(x) => "tombstone_a_to_b",
                (Some(_), None) => "a_to_b",
                (None, Some(y)) if tomb(y) => "tombstone_b_to_a",
                (None, Some(_)) => "b_to_a",
                (Some(_), Some(y)) if tomb(y) => "tombstone_b_to_a",
                (Some(x), Some(_)) if tomb(x) => "tombstone_a_to_b",
                (Some(_), Some(_)) => "sync",
                (None, None) => return None,
            };
            Some(json!({"doc": doc.as_str(), "outcome": outcome}))
        })
        .collect();
    json!({ "differences": out })
}

/// What a run found, per document, whichever side found it.
fn observed_differences(t: &Transcript) -> Value {
    let mut found: Vec<(&DocId, &'static str)> = t
        .actions_a
        .iter()
        .map(|a| (a.doc(), outcome(Side::A, a)))
        .chain(t.actions_b.iter().map(|a| (a.doc(), outcome(Side::B, a))))
        .collect();
    found.sort();
    let out: Vec<Value> = found
        .into_iter()
        .map(|(doc, outcome)| json!({"doc": doc.as_str(), "outcome": outcome}))
        .collect();
    json!({ "differences": out })
}

/// `reconcile`: dialer set `a`, acceptor set `b`. `expected = {"differences":
/// [{"doc", "outcome"}]}`: every differing document exactly once, in id order.
pub(crate) fn reconcile(case: &Case) -> Result<Observed, String> {
    let (a, b) = sets(case)?;
    Ok(match sim::run(&a, &b, MAX_MESSAGES) {
        Ok(t) => Observed::accept(observed_differences(&t)),
        Err(e) => Observed::reject(json!({"error": e.to_string()})),
    })
}

/// The exact exchange: every Reconcile sent (sender, payload hex, JSON) and
/// the actions each side found, in order.
pub(crate) fn transcript_value(t: &Transcript) -> Value {
    let messages: Vec<Value> = t
        .messages
        .iter()
        .map(|(side, ranges, _)| {
            let msg = Message::Reconcile {
                ranges: ranges.clone(),
            };
            // The driver already encoded this message successfully; an empty string cannot match a vector.
            let payload = msg.encode().map(hex::encode).unwrap_or_default();
            let from = if *side == Side::A { "A" } else { "B" };
            json!({"from": from, "payload": payload, "message": repr::message(&msg)})
        })
        .collect();
    json!({
        "messages": messages,
        "actions_a": t.actions_a.iter().map(repr::action).collect::<Vec<_>>(),
        "actions_b": t.actions_b.iter().map(repr::action).collect::<Vec<_>>(),
    })
}

/// `reconcile_transcript` (SHOULD): the same input as `reconcile`; `expected`
/// is the reference implementation's exact exchange ([`transcript_value`]).
pub(crate) fn transcript(case: &Case) -> Result<Observed, String> {
    let (a, b) = sets(case)?;
    Ok(match sim::run(&a, &b, MAX_MESSAGES) {
        Ok(t) => Observed::accept(transcript_value(&t)),
        Err(e) => Observed::reject(json!({"error": e.to_string()})),
    })
}

/// One responder step (HS-RECON-3, HS-RECON-4, HS-RECON-9): the reply and actions of a node
/// holding `own` to one received Reconcile, as JSON: `{"reply": hex | null, "message": json |
/// null, "ranges": N, "items": N, "actions": [..]}` (`reply` null: the received message was
/// all-Skip and is not answered). Err when the received message is refused (HS-RECON-11).
pub(crate) fn reply_value(
    own: &DocSet,
    received: &[humansync_protocol::RangeEntry],
) -> Result<Value, String> {
    let response = respond(own, received).map_err(|e| e.to_string())?;
    let actions: Vec<Value> = response.actions.iter().map(repr::action).collect();
    Ok(match response.reply {
        None => json!({"reply": null, "message": null, "ranges": 0, "items": 0, "actions": actions}),
        Some(ranges) => {
            let items: usize = ranges
                .iter()
                .map(|r| match &r.mode {
                    humansync_protocol::RangeMode::Items(v) => v.len(),
                    _ => 0,
                })
                .sum();
            let count = ranges.len();
            let msg = Message::Reconcile { ranges };
            let payload = msg
                .encode()
                .map_err(|e| format!("the reply does not encode: {e}"))?;
            json!({
                "reply": hex::encode(payload),
                "message": repr::message(&msg),
                "ranges": count,
                "items": items,
                "actions": actions,
            })
        }
    })
}

/// `reconcile_reply` (SHOULD): `own` items and `received`, the payload of one Reconcile
/// (hex). `expected` is [`reply_value`]: the reply HS-RECON-9's policy builds.
pub(crate) fn reply(case: &Case) -> Result<Observed, String> {
    let own: DocSet = items_field(case, "own")?.into_iter().collect();
    let payload = case.hex_field("received")?;
    let ranges = match Message::decode(&payload) {
        Ok(Message::Reconcile { ranges }) => ranges,
        Ok(other) => return Err(format!("`received` is a {}, not a Reconcile", other.kind())),
        Err(e) => return Err(format!("`received` does not decode: {e}")),
    };
    Ok(match reply_value(&own, &ranges) {
        Ok(v) => Observed::accept(v),
        Err(e) => Observed::reject(json!({"error": e})),
    })
}
