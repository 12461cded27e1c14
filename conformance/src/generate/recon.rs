//! reconciliation.json: separators and whole reconciliations between two sets
//! (HS-RECON-1..5), generated with `humansync_sansio::recon::sim`.

use humansync_protocol::{Bound, DocDigest, DocId, Fingerprint, Item, Message, RangeEntry, RangeMode};
use humansync_sansio::recon::sim;
use humansync_sansio::recon::{DocSet, separator};
use serde_json::{Value, json};

use super::bytes::hx;
use super::{Cases, doc};
use crate::check::recon::{MAX_MESSAGES, expected_differences, reply_value, transcript_value};
use crate::format::{Case, Expect};
use crate::{keys, repr};

pub(crate) const DESCRIPTION: &str = "Set reconciliation. `separator` (SHOULD): the shortest prefix of b sorting \
strictly above a, used as a range bound. `reconcile`: dialer set a and acceptor set b; whatever messages \
are exchanged, every differing document MUST be found exactly once, with the outcome HS-RECON-4 gives it. \
`reconcile_transcript` (SHOULD): the reference exchange for the same sets — every Reconcile payload, who \
sent it, and the actions each side found; each message is the receiver's `respond` to the previous one. \
`reconcile_reply` (SHOULD): one responder step — a node holding `own` receives the Reconcile `received` \
(payload hex) and answers `reply` (payload hex, null for none) with `ranges` ranges and `items` items, \
performing `actions`; these cases sit at and over the bounds of HS-RECON-5 to show HS-RECON-9's \
deferral and merging exactly.";

type Set = Vec<(DocId, DocDigest)>;

fn sep(c: &mut Cases, what: &str, a: &[u8], b: &[u8]) {
    c.push(
        Case::new(String::new(), "separator", &["HS-RECON-2"], what, Expect::Valid)
            .should()
            .with("a", hx(a))
            .with("b", hx(b))
            .expect(json!({"key": hx(&separator(a, b))})),
    );
}

fn items(set: &Set) -> Vec<Value> {
    set.iter().map(|(d, g)| repr::doc_digest(d, g)).collect()
}

fn scenario(c: &mut Cases, what: &str, a: &Set, b: &Set) {
    let sa: DocSet = a.iter().cloned().collect();
    let sb: DocSet = b.iter().cloned().collect();
    let reqs = &[
        "HS-RECON-1",
        "HS-RECON-2",
        "HS-RECON-3",
        "HS-RECON-4",
        "HS-RECON-5",
    ];
    let base = |kind: &str, what: String| {
        Case::new(String::new(), kind, reqs, &what, Expect::Valid)
            .with("a", items(a))
            .with("b", items(b))
    };
    c.push(base("reconcile", what.to_owned()).expect(expected_differences(&sa, &sb)));
    let transcript = match sim::run(&sa, &sb, MAX_MESSAGES) {
        Ok(t) => transcript_value(&t),
        Err(e) => json!({"generator_error": e.to_string()}),
    };
    c.push(
        base("reconcile_transcript", format!("{what}: the reference exchange"))
            .should()
            .expect(transcript),
    );
}

fn docs(range: std::ops::Range<usize>, version: &str) -> Set {
    range
        .map(|i| {
            (
                doc(&format!("app/doc-{i:04}")),
                keys::digest(&format!("{version}{i}")),
            )
        })
        .collect()
}

fn set_digest(set: &mut Set, i: usize, digest: DocDigest) {
    let id = doc(&format!("app/doc-{i:04}"));
    match set.iter_mut().find(|(d, _)| *d == id) {
        Some(entry) => entry.1 = digest,
        None => set.push((id, digest)),
    }
    set.sort();
}

fn remove(set: &mut Set, i: usize) {
    let id = doc(&format!("app/doc-{i:04}"));
    set.retain(|(d, _)| *d != id);
}

/// Every reconciliation.json case.
pub(crate) fn cases() -> Cases {
    let mut c = Cases::new("recon");
    sep(
        &mut c,
        "ids sharing a long prefix",
        b"humandocs/doc-0a1",
        b"humandocs/doc-0b2",
    );
    sep(&mut c, "a is a prefix of b", b"a", b"ab");
    sep(&mut c, "a is empty", b"", b"x");
    sep(&mut c, "differing at the first byte", b"abc", b"b");
    sep(&mut c, "'-' sorts below '0'", b"a-z", b"a0");
    sep(
        &mut c,
        "upper case sorts below lower case",
        b"Notes/z",
        b"notes/a",
    );
    sep(
        &mut c,
        "differing in the last byte",
        b"app/doc-0041",
        b"app/doc-0042",
    );

    scenario(
        &mut c,
        "both sets empty: equal summaries, nothing sent",
        &vec![],
        &vec![],
    );
    let fifty = docs(0..50, "v");
    scenario(
        &mut c,
        "identical sets of 50: equal summaries, nothing sent",
        &fifty,
        &fifty,
    );
    scenario(
        &mut c,
        "the dialer is empty, the acceptor holds 5",
        &vec![],
        &docs(0..5, "v"),
    );
    scenario(
        &mut c,
        "the dialer holds 5, the acceptor is empty",
        &docs(0..5, "v"),
        &vec![],
    );
    let ten = docs(0..10, "v");
    let mut ten_b = ten.clone();
    set_digest(&mut ten_b, 4, keys::digest("changed"));
    scenario(&mut c, "10 documents, one edited on the acceptor", &ten, &ten_b);

    let base = docs(0..200, "v");
    let (mut a, mut b) = (base.clone(), base);
    for i in [3, 77, 150] {
        set_digest(&mut a, i, keys::digest(&format!("a-edit{i}")));
    }
    set_digest(&mut a, 200, keys::digest("a-new"));
    set_digest(&mut a, 201, keys::digest("a-new2"));
    set_digest(&mut b, 202, keys::digest("b-new"));
    set_digest(&mut b, 203, DocDigest::TOMBSTONE);
    set_digest(&mut a, 10, DocDigest::TOMBSTONE);
    set_digest(&mut b, 20, DocDigest::TOMBSTONE);
    remove(&mut a, 30);
    set_digest(&mut a, 40, DocDigest::TOMBSTONE);
    set_digest(&mut b, 40, DocDigest::TOMBSTONE);
    scenario(
        &mut c,
        "200 documents: edits, additions, deletions and tombstones on both sides",
        &a,
        &b,
    );

    scenario(
        &mut c,
        "disjoint sets of 20 each",
        &docs(0..20, "v"),
        &docs(20..40, "v"),
    );
    scenario(
        &mut c,
        "40 documents, every digest different",
        &docs(0..40, "a"),
        &docs(0..40, "b"),
    );
    let big = docs(0..600, "v");
    let mut big_b = big.clone();
    for i in [0, 137, 299, 451, 599] {
        set_digest(&mut big_b, i, keys::digest(&format!("b-edit{i}")));
    }
    scenario(&mut c, "600 documents, 5 edited on the acceptor", &big, &big_b);
    scenario(
        &mut c,
        "the dialer holds 300, the acceptor none",
        &docs(0..300, "v"),
        &vec![],
    );
    reply_cases(&mut c);
    c
}

/// Short ids `r/0000`…, so that the cases at the bounds stay small.
fn short(i: usize) -> DocId {
    doc(&format!("r/{i:04}"))
}

fn short_docs(range: std::ops::Range<usize>) -> Set {
    range
        .map(|i| (short(i), keys::digest(&format!("r{i}"))))
        .collect()
}

/// A received range ending below item `next` (End when None) whose fingerprint differs from
/// every non-empty own range: count 0, all-zero fingerprint.
fn wrong(next: Option<usize>) -> RangeEntry {
    RangeEntry {
        upper: next.map_or(Bound::End, |i| Bound::Key(short(i).as_str().as_bytes().to_vec())),
        mode: RangeMode::Fingerprint {
            count: 0,
            fingerprint: Fingerprint::EMPTY,
        },
    }
}

fn reply_case(c: &mut Cases, what: &str, own: &Set, received: Vec<RangeEntry>) {
    let set: DocSet = own.iter().cloned().collect();
    let payload = Message::Reconcile {
        ranges: received.clone(),
    }
    .encode()
    .map(|b| hx(&b))
    .unwrap_or_else(|e| format!("generator error: {e}"));
    let expected = reply_value(&set, &received).unwrap_or_else(|e| json!({"generator_error": e}));
    c.push(
        Case::new(
            String::new(),
            "reconcile_reply",
            &["HS-RECON-3", "HS-RECON-5", "HS-RECON-8", "HS-RECON-9"],
            what,
            Expect::Valid,
        )
        .should()
        .with("own", items(own))
        .with("received", payload)
        .expect(expected),
    );
}

/// One responder step at and over the bounds of HS-RECON-5 (HS-RECON-9).
fn reply_cases(c: &mut Cases) {
    use humansync_protocol::limits::{
        MAX_RECON_ITEMS, MAX_RECON_RANGES, RECON_BRANCHING, RECON_ITEMS_THRESHOLD,
    };
    // Items: 70 differing ranges of RECON_ITEMS_THRESHOLD own items each. 64 Items answers make
    // exactly MAX_RECON_ITEMS items (at the bound); the 65th would be over: it and the rest are
    // deferred, each with the own fingerprint of its range.
    let per = RECON_ITEMS_THRESHOLD;
    let groups = MAX_RECON_ITEMS / per + 6;
    let own = short_docs(0..groups * per);
    let received = (0..groups)
        .map(|g| wrong((g + 1 < groups).then_some((g + 1) * per)))
        .collect();
    reply_case(
        c,
        "70 differing ranges of 16 own items: 64 Items answers hold exactly MAX_RECON_ITEMS (1,024) \
         items; the 65th would exceed it, so it and the 5 after it are deferred as own Fingerprints",
        &own,
        received,
    );

    // Ranges: 15 differing ranges of 32 own items split into RECON_BRANCHING sub-ranges each (240
    // ranges), then differing ranges of 4 own items answered with Items until the reply holds
    // MAX_RECON_RANGES - 1 (255) ranges; the next differing range does not fit and is deferred as a
    // range of its own (256, the bound); every later range — a differing one, a received Items
    // range (not diffed now: no action) and a Skip — merges into that deferral.
    let big = 2 * RECON_BRANCHING;
    let splits = (MAX_RECON_RANGES - 1) / RECON_BRANCHING; // 15 whole splits: 240 ranges
    let small = 4;
    let items_answers = MAX_RECON_RANGES - 1 - splits * RECON_BRANCHING; // 15 more: 255 ranges
    let extra = 3;
    let mut bounds = Vec::new(); // first own index of each received range after the first
    let mut next = 0;
    for _ in 0..splits {
        next += big;
        bounds.push(next);
    }
    for _ in 0..items_answers + extra {
        next += small;
        bounds.push(next);
    }
    let own = short_docs(0..next + small);
    let mut received: Vec<RangeEntry> = bounds.iter().map(|&b| wrong(Some(b))).collect();
    // A received Items range over the next 4 own ids, listing other digests: deferred, not diffed.
    let theirs: Vec<Item> = (next..next + small)
        .map(|i| Item {
            doc: short(i),
            digest: keys::digest(&format!("theirs{i}")),
        })
        .collect();
    received.push(RangeEntry {
        upper: Bound::Key(b"r/9".to_vec()),
        mode: RangeMode::Items(theirs),
    });
    received.push(RangeEntry {
        upper: Bound::End,
        mode: RangeMode::Skip,
    });
    reply_case(
        c,
        "15 splits (240 ranges) and 15 Items answers fill the reply to MAX_RECON_RANGES - 1 (255); \
         the next differing range is deferred as the 256th range (at the bound), and every later \
         range, a received Items range (not diffed: no action) and a Skip included, merges into it",
        &own,
        received,
    );

    // HS-RECON-8's spread: 31 items in 16 groups are 1 then fifteen 2s (floor((i+1)*31/16) -
    // floor(i*31/16)), not fifteen 2s then a 1.
    let own_31: Set = short_docs(1..2 * RECON_BRANCHING);
    reply_case(
        c,
        "one differing range of 31 own items is split into 16 Fingerprint ranges of sizes \
         floor((i+1)*31/16) - floor(i*31/16)",
        &own_31,
        vec![wrong(None)],
    );
}
