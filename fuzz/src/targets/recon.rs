//! `recon`: range-based set reconciliation on arbitrary input (HS-RECON-2 .. HS-RECON-5).
//!
//! Input: byte 0 even = structured (an arbitrary document set and peer-shaped ranges built
//! from the rest); odd = the rest decoded as a `Message` whose Reconcile ranges are used.
//! Checked: `respond` never panics; a reply is within `MAX_RECON_RANGES` ranges and
//! `MAX_RECON_ITEMS` items, encodes, round-trips, and is accepted by `respond` on any set;
//! a full two-party run between the set and a perturbed copy ends, and its actions name
//! exactly the documents whose digests differ, each once (HS-RECON-4).

use std::collections::BTreeSet;

use arbitrary::{Result, Unstructured};
use humansync_protocol::limits::{MAX_RECON_ITEMS, MAX_RECON_RANGES};
use humansync_protocol::{DocId, Message, RangeEntry, RangeMode};
use humansync_sansio::recon::sim::run as reconcile;
use humansync_sansio::recon::{DocSet, respond};

use crate::arb;

/// Messages after which a two-party run counts as not converging (far above any real run).
const MAX_MESSAGES: usize = 200;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    let _ = if mode % 2 == 0 {
        structured(&mut u)
    } else {
        decoded(rest)
    };
}

fn structured(u: &mut Unstructured<'_>) -> Result<()> {
    let max = if u.ratio(1u8, 8)? { 600 } else { 40 };
    let set = arb::doc_set(u, max)?;
    let peer = arb::perturb(u, &set)?;
    let ranges = arb::ranges(u, &peer)?;
    answer(&set, &ranges);
    two_party(&set, &peer);
    Ok(())
}

fn decoded(bytes: &[u8]) -> Result<()> {
    if let Ok(Message::Reconcile { ranges }) = Message::decode(bytes) {
        let set: DocSet = ranges
            .iter()
            .filter_map(|r| match &r.mode {
                RangeMode::Items(items) => Some(items.iter().map(|i| (i.doc.clone(), i.digest))),
                _ => None,
            })
            .flatten()
            .collect();
        answer(&set, &ranges);
        answer(&DocSet::new(), &ranges);
    }
    Ok(())
}

/// Answers `ranges` and checks the reply (HS-RECON-5).
fn answer(set: &DocSet, ranges: &[RangeEntry]) {
    let Ok(response) = respond(set, ranges) else {
        return;
    };
    let Some(reply) = response.reply else {
        assert!(
            ranges.iter().all(|r| r.mode == RangeMode::Skip),
            "no reply to a non-final message"
        );
        return;
    };
    assert!(
        !reply.is_empty() && reply.len() <= MAX_RECON_RANGES,
        "{} ranges",
        reply.len()
    );
    let items: usize = reply
        .iter()
        .map(|r| match &r.mode {
            RangeMode::Items(items) => items.len(),
            _ => 0,
        })
        .sum();
    assert!(items <= MAX_RECON_ITEMS, "{items} items");
    let msg = Message::Reconcile {
        ranges: reply.clone(),
    };
    let bytes = msg.encode().expect("a reply encodes");
    assert_eq!(Message::decode(&bytes).as_ref(), Ok(&msg));
    // Whatever the peer holds, our reply is well-formed for it.
    respond(&DocSet::new(), &reply).expect("the reply is a valid Reconcile");
    respond(set, &reply).expect("the reply is a valid Reconcile");
}

/// A whole reconciliation between `a` (dialer) and `b` ends and finds every difference once.
fn two_party(a: &DocSet, b: &DocSet) {
    let transcript = reconcile(a, b, MAX_MESSAGES).unwrap_or_else(|e| panic!("reconciliation failed: {e}"));
    let mut differing: BTreeSet<DocId> = BTreeSet::new();
    for (id, d) in a.iter() {
        if b.get(id) != Some(d) {
            differing.insert(id.clone());
        }
    }
    for (id, _) in b.iter() {
        if a.get(id).is_none() {
            differing.insert(id.clone());
        }
    }
    let mut found: Vec<DocId> = transcript
        .actions_a
        .iter()
        .chain(&transcript.actions_b)
        .map(|a| a.doc().clone())
        .collect();
    found.sort();
    let unique: BTreeSet<DocId> = found.iter().cloned().collect();
    assert_eq!(unique.len(), found.len(), "a document got two actions");
    assert_eq!(
        unique, differing,
        "HS-RECON-4: actions do not match the difference"
    );
}
