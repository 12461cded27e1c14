//! Property tests: random pairs of sets always reconcile, within the message
//! limits, in a bounded number of messages (HS-RECON-2 .. HS-RECON-5).

mod common;

use common::{apply_and_check, differing};
use humansync_protocol::limits::{MAX_RECON_ITEMS, MAX_RECON_RANGES};
use humansync_protocol::{DocDigest, DocId, Message, RangeMode};
use humansync_sansio::recon::DocSet;
use humansync_sansio::recon::sim;
use proptest::prelude::*;

/// How one document of the union appears on each side, from a roll in 0..100
/// against the case's share of equal documents.
#[derive(Debug, Clone, Copy)]
enum Presence {
    Both,
    Changed,
    OnlyA,
    OnlyB,
}

fn presence(roll: u8, equal_pct: u8) -> Presence {
    if roll < equal_pct {
        return Presence::Both;
    }
    match roll % 3 {
        0 => Presence::Changed,
        1 => Presence::OnlyA,
        _ => Presence::OnlyB,
    }
}

fn digest() -> impl Strategy<Value = DocDigest> {
    prop_oneof![5 => any::<[u8; 16]>().prop_map(DocDigest), 1 => Just(DocDigest::TOMBSTONE)]
}

/// Ids that are often prefixes of each other (short, tiny alphabet) or uuid-like.
fn doc_id() -> impl Strategy<Value = DocId> {
    prop_oneof![
        "[ab][ab0-]{0,6}".prop_map(|s| DocId::new(s).expect("valid")),
        "humandocs/doc-[0-9a-f]{1,12}".prop_map(|s| DocId::new(s).expect("valid")),
    ]
}

fn pair() -> impl Strategy<Value = (DocSet, DocSet)> {
    let equal_pct = prop_oneof![Just(0u8), Just(50), Just(90), Just(99), Just(100), 0u8..=100];
    (
        equal_pct,
        prop::collection::vec((doc_id(), 0u8..100, digest(), digest()), 0..2000),
    )
        .prop_map(|(equal_pct, docs)| {
            let (mut a, mut b) = (DocSet::new(), DocSet::new());
            for (doc, roll, x, y) in docs {
                match presence(roll, equal_pct) {
                    Presence::Both => {
                        a.insert(doc.clone(), x);
                        b.insert(doc, x);
                    }
                    Presence::Changed => {
                        a.insert(doc.clone(), x);
                        b.insert(doc, y);
                    }
                    Presence::OnlyA => {
                        a.insert(doc, x);
                    }
                    Presence::OnlyB => {
                        b.insert(doc, y);
                    }
                }
            }
            (a, b)
        })
}

/// A logarithmic bound: two messages per level of a 16-ary tree over the larger
/// set, two more to start and end, and two per quarter-message of differing
/// items (each message carries at most MAX_RECON_ITEMS items).
fn message_bound(a: &DocSet, b: &DocSet) -> usize {
    let n = a.len().max(b.len()).max(1);
    let levels = (n as f64).log(16.0).ceil() as usize;
    let diff = differing(a, b).len();
    2 * (levels + 2) + 2 * diff.div_ceil(MAX_RECON_ITEMS / 4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_sets_converge((a, b) in pair()) {
        // HS-RECON-2 .. HS-RECON-5: converges, actions cover exactly the difference
        // (checked by apply_and_check), every message within the limits.
        let t = sim::run(&a, &b, 10_000).map_err(|e| TestCaseError::fail(e.to_string()))?;
        apply_and_check(&a, &b, &t);
        if a.summary() == b.summary() {
            prop_assert!(t.messages.is_empty());
        }
        let bound = message_bound(&a, &b);
        prop_assert!(t.messages.len() <= bound, "{} messages > bound {}", t.messages.len(), bound);
        for (_, ranges, bytes) in &t.messages {
            prop_assert!(!ranges.is_empty() && ranges.len() <= MAX_RECON_RANGES);
            let items: usize = ranges.iter().map(|r| if let RangeMode::Items(i) = &r.mode { i.len() } else { 0 }).sum();
            prop_assert!(items <= MAX_RECON_ITEMS);
            let encoded = Message::Reconcile { ranges: ranges.clone() }.encode().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(encoded.len(), *bytes);
        }
        // The last message is the all-Skip one (HS-RECON-5).
        if let Some((_, last, _)) = t.messages.last() {
            prop_assert!(last.iter().all(|r| r.mode == RangeMode::Skip));
            prop_assert_eq!(last.len(), 1, "adjacent Skips are merged");
        }
    }
}
