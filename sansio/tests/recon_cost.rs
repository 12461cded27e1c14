//! Reconciliation cost, counted in messages, round trips and encoded bytes
//! (HS-RECON-1 .. HS-RECON-5). `cargo test --test recon_cost -- --nocapture` prints the table.

mod common;

use common::{apply_and_check, live_digest, rng, uuid_id};
use humansync_protocol::DocDigest;
use humansync_sansio::recon::sim::{self, Transcript};
use humansync_sansio::recon::{DocSet, ReconAction};
use rand_core::RngCore;

const N: usize = 10_000;

fn base(n: usize, seed: u64) -> DocSet {
    let mut r = rng(seed);
    (0..n).map(|_| (uuid_id(&mut r), live_digest(&mut r))).collect()
}

/// `a` with `k` distinct random documents given a new digest.
fn changed(a: &DocSet, k: usize, seed: u64) -> DocSet {
    let mut r = rng(seed);
    let ids: Vec<_> = a.iter().map(|(d, _)| d.clone()).collect();
    let mut b = a.clone();
    let mut done = 0;
    while done < k {
        let doc = &ids[(r.next_u64() % ids.len() as u64) as usize];
        if b.get(doc) == a.get(doc) {
            b.insert(doc.clone(), live_digest(&mut r));
            done += 1;
        }
    }
    b
}

fn run(a: &DocSet, b: &DocSet) -> Transcript {
    let t = sim::run(a, b, 1000).expect("reconciliation converges");
    apply_and_check(a, b, &t);
    t
}

/// Ranges summed over every Reconcile message of the run.
fn ranges(t: &Transcript) -> usize {
    t.messages.iter().map(|(_, r, _)| r.len()).sum()
}

/// One row of SPEC.md §6.8's table: messages, round trips, ranges and encoded bytes.
fn row(label: &str, t: &Transcript) {
    println!(
        "| {label:<32} | {:>8} | {:>11} | {:>6} | {:>9} |",
        t.messages.len(),
        t.round_trips(),
        ranges(t),
        t.bytes()
    );
}

/// Per changed document: about one 16-way split (~600 bytes) per tree level
/// below the first, plus its listing; independent of n but for log16(n) levels.
fn per_change_bound(k: usize) -> usize {
    2500 + k * 1500
}

#[test]
fn cost_table() {
    println!("| case (n = {N} uuid-like ids)    | messages | round trips | ranges |     bytes |");
    println!("|----------------------------------|----------|-------------|--------|-----------|");

    // HS-RECON-1: identical sets cost no Reconcile message.
    let a = base(N, 10);
    let t = run(&a, &a.clone());
    row("identical", &t);
    assert!(t.messages.is_empty());

    let mut previous = 0;
    for (i, k) in [1usize, 10, 100, 1000].into_iter().enumerate() {
        let b = changed(&a, k, 100 + i as u64);
        let t = run(&a, &b);
        row(&format!("k = {k} changed"), &t);
        // Exactly k Sync actions, nothing else (HS-RECON-4).
        let all: Vec<_> = t.actions_a.iter().chain(&t.actions_b).collect();
        assert_eq!(all.len(), k);
        assert!(all.iter().all(|a| matches!(a, ReconAction::Sync(_))));
        assert!(t.bytes() > previous, "bytes grow with k");
        previous = t.bytes();
        if k == 1 {
            assert!(t.bytes() <= 3 * 1024, "k=1 costs {} bytes", t.bytes());
            assert!(t.messages.len() <= 8, "k=1 takes {} messages", t.messages.len());
        }
        assert!(t.bytes() <= per_change_bound(k), "k={k}: {} bytes", t.bytes());
    }

    // Every document changed on both sides (SPEC.md §6.8's last row): every digest differs, so
    // the bounds of HS-RECON-5 bite and the Items alone carry every id.
    let all = changed(&a, N, 7);
    let t = run(&a, &all);
    row("all changed", &t);
    assert_eq!(t.actions_a.len() + t.actions_b.len(), N);
    let id_bytes: usize = a.iter().map(|(d, _)| d.as_str().len() + 1 + 16).sum();
    assert!(
        t.bytes() > id_bytes,
        "the Items carry every id and digest at least once"
    );

    // 100 documents deleted, missing or changed on B.
    let mut b = a.clone();
    let ids: Vec<_> = a.iter().map(|(d, _)| d.clone()).collect();
    let mut r = rng(41);
    for doc in ids.iter().step_by(97).take(100) {
        match r.next_u32() % 3 {
            0 => b.insert(doc.clone(), DocDigest::TOMBSTONE),
            1 => b.remove(doc),
            _ => b.insert(doc.clone(), live_digest(&mut r)),
        };
    }
    let t = run(&a, &b);
    row("k = 100 deleted/missing/changed", &t);
    assert!(t.bytes() <= per_change_bound(100), "{} bytes", t.bytes());

    // A fresh device: the holder ends up with exactly one SendWhole per document.
    let empty = DocSet::new();
    for (label, x, y) in [
        ("B fresh, A holds all", &a, &empty),
        ("A fresh, B holds all", &empty, &a),
    ] {
        let t = run(x, y);
        row(label, &t);
        let (holder, other) = if x.is_empty() {
            (&t.actions_b, &t.actions_a)
        } else {
            (&t.actions_a, &t.actions_b)
        };
        assert!(other.is_empty());
        assert_eq!(holder.len(), N);
        assert!(holder.iter().all(|a| matches!(a, ReconAction::SendWhole(_))));
        assert!(t.messages.len() <= 3);
        assert!(t.bytes() <= 1024, "{} bytes", t.bytes());
    }
}

#[test]
fn cost_is_logarithmic_in_set_size() {
    // The same 10 changes in sets of 1,000 and 10,000 documents: the bigger set adds
    // about one tree level, not ten times the bytes.
    let small = base(1_000, 20);
    let big = base(N, 21);
    let ts = run(&small, &changed(&small, 10, 22));
    let tb = run(&big, &changed(&big, 10, 23));
    println!(
        "k = 10: n = 1000 → {} bytes / {} messages; n = 10000 → {} bytes / {} messages",
        ts.bytes(),
        ts.messages.len(),
        tb.bytes(),
        tb.messages.len()
    );
    assert!(tb.bytes() < 2 * ts.bytes());
    assert!(tb.messages.len() <= ts.messages.len() + 2);
}
