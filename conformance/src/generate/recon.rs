//! reconciliation.json: separators and whole reconciliations between two sets
//! (HS-RECON-1..5), generated with `humansync_sansio::recon::sim`.

use humansync_protocol::{DocDigest, DocId};
use humansync_sansio::recon::sim;
use humansync_sansio::recon::{DocSet, separator};
use serde_json::{Value, json};

use super::bytes::hx;
use super::{Cases, doc};
use crate::check::recon::{MAX_MESSAGES, expected_differences, transcript_value};
use crate::format::{Case, Expect};
use crate::{keys, repr};

pub(crate) const DESCRIPTION: &str = "Set reconciliation. `separator` (SHOULD): the shortest prefix of b sorting \
strictly above a, used as a range bound. `reconcile`: dialer set a and acceptor set b; whatever messages \
are exchanged, every differing document MUST be found exactly once, with the outcome HS-RECON-4 gives it. \
`reconcile_transcript` (SHOULD): the reference exchange for the same sets — every Reconcile payload, who \
sent it, and the actions each side found; each message is the receiver's `respond` to the previous one.";

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
    c
}
