//! Reconciliation end to end: the two-party driver, the reference model, peer faults,
//! and a transcript snapshot (HS-RECON-1 .. HS-RECON-5).

mod common;

use common::{apply_and_check, live_digest, render, rng, uuid_id};
use humansync_protocol::limits::{MAX_RECON_ITEMS, MAX_RECON_RANGES, RECON_BRANCHING};
use humansync_protocol::{Bound, CloseCode, DocDigest, DocId, Fingerprint, Item, RangeEntry, RangeMode};
use humansync_sansio::recon::sim::{self, Transcript};
use humansync_sansio::recon::{DocSet, ReconAction, ReconError, initiate, respond};

fn id(s: &str) -> DocId {
    DocId::new(s).expect("valid test id")
}

fn key(s: &str) -> Bound {
    Bound::Key(s.as_bytes().to_vec())
}

fn run(a: &DocSet, b: &DocSet) -> Transcript {
    sim::run(a, b, 200).expect("reconciliation converges")
}

fn set_of(items: &[(&str, DocDigest)]) -> DocSet {
    items.iter().map(|(s, d)| (id(s), *d)).collect()
}

#[test]
fn equal_sets_send_nothing() {
    // HS-RECON-1: equal summaries → no Reconcile at all.
    let mut r = rng(1);
    let a: DocSet = (0..500).map(|_| (uuid_id(&mut r), live_digest(&mut r))).collect();
    let t = run(&a, &a.clone());
    assert!(t.messages.is_empty());
    assert!(run(&DocSet::new(), &DocSet::new()).messages.is_empty());
}

#[test]
fn small_sets_with_every_kind_of_difference_converge() {
    // HS-RECON-3, HS-RECON-4: every action kind, both directions, ids that are prefixes of others.
    let (x, y, z, t) = (
        DocDigest([1; 16]),
        DocDigest([2; 16]),
        DocDigest([3; 16]),
        DocDigest::TOMBSTONE,
    );
    let a = set_of(&[
        ("a", x),
        ("ab", x),
        ("abc", t),
        ("b", x),
        ("c", x),
        ("c0", t),
        ("d", x),
        ("e", t),
    ]);
    let b = set_of(&[
        ("a", x),
        ("ab", y),
        ("abd", z),
        ("b", t),
        ("c", x),
        ("d", t),
        ("e", t),
        ("f", z),
    ]);
    let tr = run(&a, &b);
    apply_and_check(&a, &b, &tr);
    assert_eq!(
        tr.messages.len(),
        2,
        "≤ threshold: Items, then the final Skip\n{}",
        render(&tr)
    );
}

#[test]
fn one_side_empty() {
    // HS-RECON-3: a side with no items in a differing range answers Items(empty).
    let mut r = rng(2);
    let full: DocSet = (0..3000)
        .map(|_| (uuid_id(&mut r), live_digest(&mut r)))
        .collect();
    let empty = DocSet::new();
    for (a, b) in [(&full, &empty), (&empty, &full)] {
        let t = run(a, b);
        apply_and_check(a, b, &t);
        assert!(t.messages.len() <= 3, "{} messages", t.messages.len());
    }
}

#[test]
// HS-RECON-9, HS-RECON-12: replies stay in bounds, every fingerprint is the true one (checked by the driver), and progress is made.
fn disjoint_large_sets_hit_the_limits_and_converge() {
    // HS-RECON-5: replies stay within MAX_RECON_RANGES / MAX_RECON_ITEMS even when
    // every range differs; the deferred tail still converges.
    let mut r = rng(3);
    let a: DocSet = (0..6000)
        .map(|_| (uuid_id(&mut r), live_digest(&mut r)))
        .collect();
    let b: DocSet = (0..6000)
        .map(|_| (uuid_id(&mut r), live_digest(&mut r)))
        .collect();
    let t = run(&a, &b);
    apply_and_check(&a, &b, &t);
    let widest = t.messages.iter().map(|(_, r, _)| r.len()).max().unwrap_or(0);
    assert!(widest <= MAX_RECON_RANGES);
    println!(
        "disjoint 6000 + 6000: {} messages, {} bytes",
        t.messages.len(),
        t.bytes()
    );
    let budget_hit = t
        .messages
        .iter()
        .any(|(_, r, _)| r.len() + RECON_BRANCHING > MAX_RECON_RANGES);
    assert!(budget_hit, "this case must exercise the range budget");
    for (_, ranges, _) in &t.messages {
        let items: usize = ranges
            .iter()
            .map(|r| {
                if let RangeMode::Items(i) = &r.mode {
                    i.len()
                } else {
                    0
                }
            })
            .sum();
        assert!(items <= MAX_RECON_ITEMS);
    }
    assert!(t.messages.len() <= 40, "{} messages", t.messages.len());
}

#[test]
fn all_skip_is_never_answered() {
    // HS-RECON-5: an all-Skip message ends reconciliation; the receiver does not answer.
    let set = set_of(&[("a", DocDigest([1; 16]))]);
    let skips = [
        RangeEntry {
            upper: key("m"),
            mode: RangeMode::Skip,
        },
        RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Skip,
        },
    ];
    let r = respond(&set, &skips).expect("valid");
    assert_eq!(r.reply, None);
    assert!(r.actions.is_empty() && r.is_final());
}

#[test]
fn equal_ranges_are_skipped_and_skips_merged() {
    // HS-RECON-3 (equal fingerprint → Skip), HS-RECON-5 (adjacent Skips merged).
    let set = set_of(&[
        ("a", DocDigest([1; 16])),
        ("n", DocDigest([2; 16])),
        ("x", DocDigest([3; 16])),
    ]);
    let fp = |lo: &[u8], up: &Bound| {
        let (count, fingerprint) = set.range_summary(lo, up);
        RangeMode::Fingerprint { count, fingerprint }
    };
    let ranges = vec![
        RangeEntry {
            upper: key("m"),
            mode: fp(b"", &key("m")),
        },
        RangeEntry {
            upper: key("t"),
            mode: RangeMode::Skip,
        },
        RangeEntry {
            upper: Bound::End,
            mode: fp(b"t", &Bound::End),
        },
    ];
    let r = respond(&set, &ranges).expect("valid");
    assert_eq!(
        r.reply,
        Some(vec![RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Skip
        }])
    );
    assert!(r.is_final() && r.actions.is_empty());
}

#[test]
fn differing_range_without_own_items_answers_empty_items() {
    // HS-RECON-3: 0 own items in a differing range → Items(empty).
    let set = set_of(&[("z", DocDigest([1; 16]))]);
    let ranges = vec![
        RangeEntry {
            upper: key("m"),
            mode: RangeMode::Fingerprint {
                count: 40,
                fingerprint: Fingerprint([9; 16]),
            },
        },
        RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Skip,
        },
    ];
    let r = respond(&set, &ranges).expect("valid");
    assert_eq!(
        r.reply,
        Some(vec![
            RangeEntry {
                upper: key("m"),
                mode: RangeMode::Items(vec![])
            },
            RangeEntry {
                upper: Bound::End,
                mode: RangeMode::Skip
            },
        ])
    );
    assert!(!r.is_final());
}

#[test]
// HS-RECON-7, HS-RECON-8: the dialer's first reply and the near-equal split.
fn initiate_splits_or_lists() {
    // HS-RECON-2, HS-RECON-3: the whole space as one differing range.
    let mut r = rng(4);
    let big: DocSet = (0..100).map(|_| (uuid_id(&mut r), live_digest(&mut r))).collect();
    let ranges = initiate(&big);
    assert_eq!(ranges.len(), RECON_BRANCHING);
    assert!(
        ranges
            .iter()
            .all(|r| matches!(r.mode, RangeMode::Fingerprint { .. }))
    );
    assert_eq!(ranges.last().map(|r| &r.upper), Some(&Bound::End));
    assert_eq!(
        initiate(&DocSet::new()),
        vec![RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Items(vec![])
        }]
    );
}

#[test]
fn peer_faults_are_errors_with_close_codes() {
    // HS-RECON-2, HS-RECON-5: malformed range lists are peer faults, never panics.
    let set = set_of(&[("a", DocDigest([1; 16]))]);
    let skip = |upper: Bound| RangeEntry {
        upper,
        mode: RangeMode::Skip,
    };
    let items = |upper: Bound, ids: &[&str]| RangeEntry {
        upper,
        mode: RangeMode::Items(
            ids.iter()
                .map(|s| Item {
                    doc: id(s),
                    digest: DocDigest([5; 16]),
                })
                .collect(),
        ),
    };
    let too_many_items = items(Bound::End, &[]);
    let too_many_items = RangeEntry {
        mode: RangeMode::Items(
            (0..=MAX_RECON_ITEMS)
                .map(|i| Item {
                    doc: id(&format!("d{i:05}")),
                    digest: DocDigest([5; 16]),
                })
                .collect(),
        ),
        ..too_many_items
    };
    let cases: Vec<(Vec<RangeEntry>, ReconError, CloseCode)> = vec![
        (vec![], ReconError::NoRanges, CloseCode::MALFORMED),
        (vec![skip(key("m"))], ReconError::LastNotEnd, CloseCode::MALFORMED),
        (
            vec![skip(key("m")), skip(key("m")), skip(Bound::End)],
            ReconError::NotAscending { index: 1 },
            CloseCode::MALFORMED,
        ),
        (
            vec![skip(key("m")), skip(key("c")), skip(Bound::End)],
            ReconError::NotAscending { index: 1 },
            CloseCode::MALFORMED,
        ),
        (
            vec![skip(key("")), skip(Bound::End)],
            ReconError::NotAscending { index: 0 },
            CloseCode::MALFORMED,
        ),
        (
            vec![skip(Bound::End), skip(Bound::End)],
            ReconError::NotAscending { index: 0 },
            CloseCode::MALFORMED,
        ),
        (
            (0..=MAX_RECON_RANGES)
                .map(|i| {
                    skip(if i == MAX_RECON_RANGES {
                        Bound::End
                    } else {
                        key(&format!("k{i:04}"))
                    })
                })
                .collect(),
            ReconError::TooManyRanges(MAX_RECON_RANGES + 1),
            CloseCode::MALFORMED,
        ),
        (
            vec![too_many_items],
            ReconError::TooManyItems(MAX_RECON_ITEMS + 1),
            CloseCode::MALFORMED,
        ),
        (
            vec![items(key("m"), &["a", "n"]), skip(Bound::End)],
            // HS-RECON-11
            ReconError::ItemOutOfRange { index: 0 },
            CloseCode::PROTOCOL,
        ),
        (
            vec![skip(key("m")), items(Bound::End, &["a"])],
            ReconError::ItemOutOfRange { index: 1 },
            CloseCode::PROTOCOL,
        ),
        (
            vec![items(key("m"), &["m"]), skip(Bound::End)],
            ReconError::ItemOutOfRange { index: 0 },
            CloseCode::PROTOCOL,
        ),
        (
            vec![items(Bound::End, &["b", "a"])],
            ReconError::ItemsNotAscending { index: 0 },
            CloseCode::PROTOCOL,
        ),
        (
            vec![items(Bound::End, &["a", "a"])],
            ReconError::ItemsNotAscending { index: 0 },
            CloseCode::PROTOCOL,
        ),
    ];
    for (ranges, err, code) in cases {
        let got = respond(&set, &ranges).expect_err("must be rejected");
        assert_eq!(got, err);
        assert_eq!(got.close_code(), code, "{err:?}");
    }
    // Bounds that are not valid ids (and not UTF-8) are fine (HS-RECON-2).
    let odd = vec![
        skip(Bound::Key(vec![0x00])),
        skip(Bound::Key(vec![0xff, 0xfe])),
        skip(Bound::End),
    ];
    assert!(respond(&set, &odd).is_ok());
}

// HS-RECON-11: `_devices` is never an item (it is not in the set, HS-RECON-6); a peer that lists
// it breaks the rule and the session closes with PROTOCOL, wherever it sits in the list.
#[test]
fn devices_in_items_is_a_protocol_fault() {
    let set = set_of(&[("a", DocDigest([1; 16]))]);
    for ids in [&["_devices"][..], &["_devices", "a"], &["_devices", "_settings"]] {
        let items: Vec<Item> = ids
            .iter()
            .map(|s| Item {
                doc: id(s),
                digest: DocDigest([5; 16]),
            })
            .collect();
        let ranges = vec![RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Items(items),
        }];
        let err = respond(&set, &ranges).expect_err("an Items range listing _devices must be refused");
        assert_eq!(err.close_code(), CloseCode::PROTOCOL, "{ids:?}: {err:?}");
    }
}

#[test]
fn transcript_snapshot() {
    // 40 documents; B differs in 3 (one changed, one missing on each side) and
    // holds one live document that A has deleted.
    let digest = |i: u8| DocDigest([i; 16]);
    let a: DocSet = (0..40u8)
        .filter(|i| *i != 31)
        .map(|i| (id(&format!("notes/n{i:02}")), digest(i)))
        .collect();
    let mut b = a.clone();
    b.insert(id("notes/n05"), digest(205));
    b.remove(&id("notes/n22"));
    b.insert(id("notes/n31"), digest(31));
    let mut a = a;
    a.insert(id("notes/n17"), DocDigest::TOMBSTONE);
    let t = run(&a, &b);
    apply_and_check(&a, &b, &t);
    insta::assert_snapshot!(render(&t));
    let mut all: Vec<ReconAction> = t.actions_a.iter().chain(&t.actions_b).cloned().collect();
    all.sort();
    assert_eq!(all.len(), 4);
}
