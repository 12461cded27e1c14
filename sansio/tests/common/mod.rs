//! Shared helpers for the reconciliation tests: id generation and the reference model.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::digest::heads_digest;
use humansync_protocol::{Bound, ChangeHash, DocDigest, DocId, RangeEntry, RangeMode};
use humansync_sansio::recon::sim::{Side, Transcript};
use humansync_sansio::recon::{DocSet, ReconAction};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A deterministic RNG; `RECON_SEED` overrides the default seed.
pub fn rng(default_seed: u64) -> ChaCha8Rng {
    let seed = std::env::var("RECON_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seed);
    ChaCha8Rng::seed_from_u64(seed)
}

/// `humandocs/doc-<uuid-like hex>`, as HumanDocs names its documents.
pub fn uuid_id(rng: &mut impl RngCore) -> DocId {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    DocId::new(format!(
        "humandocs/doc-{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
    .expect("valid id")
}

/// A random live digest.
pub fn live_digest(rng: &mut impl RngCore) -> DocDigest {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    let d = DocDigest(b);
    if d.is_tombstone() { DocDigest([0; 16]) } else { d }
}

/// The digest both sides reach after an Automerge sync of `a` and `b` (order-independent).
fn merged(a: DocDigest, b: DocDigest) -> DocDigest {
    let widen = |d: DocDigest| {
        let mut h = [0u8; 32];
        h[..16].copy_from_slice(&d.0);
        ChangeHash(h)
    };
    heads_digest(&[widen(a), widen(b)])
}

/// Performs every action of `t` on copies of `a` and `b` (checking that each one
/// is the right action for the two digests it was found for, HS-RECON-4), asserts
/// that each differing document got exactly one action and no equal one got any,
/// and that both sets are equal afterwards. Returns the reconciled set.
pub fn apply_and_check(a: &DocSet, b: &DocSet, t: &Transcript) -> DocSet {
    check_messages(a, b, t);
    let mut new_a = a.clone();
    let mut new_b = b.clone();
    let mut seen = BTreeSet::new();
    let sides = [(Side::A, &t.actions_a), (Side::B, &t.actions_b)];
    for (side, actions) in sides {
        let (me, peer, new_me, new_peer) = match side {
            Side::A => (a, b, &mut new_a, &mut new_b),
            Side::B => (b, a, &mut new_b, &mut new_a),
        };
        for action in actions.iter() {
            let doc = action.doc().clone();
            assert!(seen.insert(doc.clone()), "second action for {doc:?}: {action:?}");
            let (mine, theirs) = (me.get(&doc), peer.get(&doc));
            let live = |d: Option<DocDigest>| d.is_some_and(|d| !d.is_tombstone());
            let tomb = |d: Option<DocDigest>| d.is_some_and(|d| d.is_tombstone());
            match action {
                ReconAction::SendWhole(_) => {
                    assert!(
                        live(mine) && theirs.is_none(),
                        "{side:?} {action:?} {mine:?} {theirs:?}"
                    );
                    new_peer.insert(doc, mine.expect("checked"));
                }
                ReconAction::SendDeleted(_) => {
                    assert!(
                        tomb(mine) && !tomb(theirs),
                        "{side:?} {action:?} {mine:?} {theirs:?}"
                    );
                    new_peer.insert(doc, DocDigest::TOMBSTONE);
                }
                ReconAction::Want(_) => {
                    assert!(
                        mine.is_none() && live(theirs),
                        "{side:?} {action:?} {mine:?} {theirs:?}"
                    );
                    new_me.insert(doc, theirs.expect("checked"));
                }
                ReconAction::RecordTombstone(_) => {
                    assert!(
                        mine.is_none() && tomb(theirs),
                        "{side:?} {action:?} {mine:?} {theirs:?}"
                    );
                    new_me.insert(doc, DocDigest::TOMBSTONE);
                }
                ReconAction::DeleteLocal(_) => {
                    assert!(
                        live(mine) && tomb(theirs),
                        "{side:?} {action:?} {mine:?} {theirs:?}"
                    );
                    new_me.insert(doc, DocDigest::TOMBSTONE);
                }
                ReconAction::Sync(_) => {
                    assert!(
                        live(mine) && live(theirs) && mine != theirs,
                        "{side:?} {action:?}"
                    );
                    let m = merged(mine.expect("checked"), theirs.expect("checked"));
                    new_me.insert(doc.clone(), m);
                    new_peer.insert(doc, m);
                }
            }
        }
    }
    assert_eq!(
        seen,
        differing(a, b),
        "actions must cover exactly the symmetric difference"
    );
    assert!(new_a == new_b, "sets differ after applying the actions");
    assert_eq!(new_a.summary(), new_b.summary());
    new_a
}

/// Every Fingerprint range carries its sender's true count and fingerprint over
/// that range, and every Items range exactly its sender's items there (HS-RECON-2).
pub fn check_messages(a: &DocSet, b: &DocSet, t: &Transcript) {
    for (i, (side, ranges, _)) in t.messages.iter().enumerate() {
        let sender = if *side == Side::A { a } else { b };
        let mut lower: Vec<u8> = Vec::new();
        for r in ranges {
            match &r.mode {
                RangeMode::Skip => {}
                RangeMode::Fingerprint { count, fingerprint } => {
                    assert_eq!(
                        // HS-RECON-12: every Fingerprint sent is the sender's true range fingerprint.
                        sender.range_summary(&lower, &r.upper),
                        (*count, *fingerprint),
                        "message {i}"
                    );
                }
                RangeMode::Items(items) => {
                    let inside = |d: &[u8]| {
                        d >= lower.as_slice()
                            && match &r.upper {
                                Bound::Key(k) => d < k.as_slice(),
                                Bound::End => true,
                            }
                    };
                    let own: Vec<_> = sender
                        .iter()
                        .filter(|(d, _)| inside(d.as_str().as_bytes()))
                        .map(|(d, g)| (d.clone(), g))
                        .collect();
                    let listed: Vec<_> = items.iter().map(|i| (i.doc.clone(), i.digest)).collect();
                    assert_eq!(listed, own, "message {i}");
                }
            }
            if let Bound::Key(k) = &r.upper {
                lower = k.clone();
            }
        }
    }
}

/// Ids held by only one side or with different digests.
pub fn differing(a: &DocSet, b: &DocSet) -> BTreeSet<DocId> {
    let mut all: BTreeMap<DocId, (Option<DocDigest>, Option<DocDigest>)> = BTreeMap::new();
    for (d, g) in a.iter() {
        all.entry(d.clone()).or_default().0 = Some(g);
    }
    for (d, g) in b.iter() {
        all.entry(d.clone()).or_default().1 = Some(g);
    }
    all.into_iter()
        .filter(|(_, (x, y))| x != y)
        .map(|(d, _)| d)
        .collect()
}

/// A compact one-line-per-message rendering of a transcript, for snapshots.
pub fn render(t: &Transcript) -> String {
    let mut out = String::new();
    for (i, (side, ranges, bytes)) in t.messages.iter().enumerate() {
        let arrow = if *side == Side::A { "A→B" } else { "B→A" };
        out.push_str(&format!("#{i} {arrow} ({bytes} bytes)\n"));
        for r in ranges {
            out.push_str(&format!("  <{:<12} {}\n", bound(&r.upper), mode(&r.mode)));
        }
    }
    out.push_str(&format!(
        "actions A: {:?}\nactions B: {:?}\n",
        t.actions_a, t.actions_b
    ));
    out
}

fn bound(b: &Bound) -> String {
    match b {
        Bound::Key(k) => String::from_utf8_lossy(k).into_owned(),
        Bound::End => "End".into(),
    }
}

fn mode(m: &RangeMode) -> String {
    match m {
        RangeMode::Skip => "Skip".into(),
        RangeMode::Fingerprint { count, fingerprint } => {
            format!("Fp n={count} {}", &fingerprint.to_string()[..8])
        }
        RangeMode::Items(items) => {
            let list: Vec<String> = items
                .iter()
                .map(|i| {
                    if i.digest.is_tombstone() {
                        format!("{}@†", i.doc)
                    } else {
                        format!("{}@{}", i.doc, &i.digest.to_string()[..4])
                    }
                })
                .collect();
            format!("Items[{}]", list.join(", "))
        }
    }
}

/// Ranges per message, for limit assertions.
pub fn max_ranges(t: &Transcript) -> usize {
    t.messages
        .iter()
        .map(|(_, r, _): &(Side, Vec<RangeEntry>, usize)| r.len())
        .max()
        .unwrap_or(0)
}
