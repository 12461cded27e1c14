//! The up-to-date claim (HS-SYNC-7) checked against what the peer really holds.
//!
//! When a node reports a peer up to date, the peer holds every change of every live document the
//! node holds: nothing the node has is still in flight to it. The soak checks the same claim
//! between real processes (`up_to_date_in_flight`).

use automerge::ReadDoc;
use humansync_protocol::DocId;

use super::Sim;

/// Every claim "peer P is up to date" some running node makes right now that P's state
/// contradicts (a live document of the node, at heads P does not hold), described.
pub fn false_up_to_date_claims(sim: &Sim) -> Vec<String> {
    let mut out = Vec::new();
    for node in &sim.nodes {
        let Some(core) = node.host.core.as_ref() else {
            continue;
        };
        let peers: Vec<usize> = core
            .status()
            .peers
            .iter()
            .filter(|p| p.up_to_date)
            .filter_map(|p| sim.nodes.iter().position(|n| n.id() == p.peer))
            .collect();
        for doc in core.list("") {
            let ours = core.digest(&doc);
            for &p in &peers {
                if !holds(sim, p, &doc, ours, core.doc(&doc)) {
                    out.push(format!(
                        "seed {} t={}: {} reports {} up to date, which lacks {doc} at {}'s heads",
                        sim.seed,
                        sim.now.0,
                        node.name(),
                        sim.nodes[p].name(),
                        node.name()
                    ));
                }
            }
        }
    }
    out
}

/// Whether node `p` holds `doc` at least at the heads of `ours` (the claimant's copy, when
/// loaded; its digest otherwise).
fn holds(
    sim: &Sim,
    p: usize,
    doc: &DocId,
    digest: Option<humansync_protocol::DocDigest>,
    ours: Option<&automerge::Automerge>,
) -> bool {
    let Some(core) = sim.nodes[p].host.core.as_ref() else {
        return true; // a peer that is down is no open session's peer
    };
    if core.digest(doc).is_some() && core.digest(doc) == digest {
        return true;
    }
    if core.digest(doc).is_some_and(|d| d.is_tombstone()) {
        return true; // deleted there: the deletion wins (HS-DOC-5)
    }
    let Some(ours) = ours else {
        return true; // not loaded at the claimant: only the digests can be compared, above
    };
    let heads = ours.get_heads();
    if let Some(theirs) = core.doc(doc) {
        return heads.iter().all(|h| theirs.get_change_by_hash(h).is_some());
    }
    match sim.nodes[p].host.store.docs.get(doc) {
        Some(stored) => crate::untrusted::load(&stored.bytes)
            .map(|am| heads.iter().all(|h| am.get_change_by_hash(h).is_some()))
            .unwrap_or(false),
        None => false,
    }
}
