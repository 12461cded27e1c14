//! HS-SYNC-9: documents too large to be sent whole reach every peer as bounded DocSync messages.
//!
//! The nodes run with a whole-document limit of [`LIMIT`] bytes (`CoreConfig::max_doc_bytes`;
//! the wire bound stays `MAX_DOC_BYTES`), so documents of a few tens of KiB take the path a
//! document over 16 MiB takes in production: live push, the answer to a reconciliation or a
//! resume, and a later large change, each checked in the transcript to stay within the limit.
//! `runtime-tokio/tests/large_doc.rs` sends a real document over `MAX_DOC_BYTES` over iroh.

use automerge::transaction::Transactable;
use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

/// The whole-document limit the simulated nodes run with.
const LIMIT: usize = 8 * 1024;

fn big() -> DocId {
    DocId::new("notes/big").expect("valid id")
}

fn sim(seed: u64, devices: usize) -> Sim {
    Sim::new(
        seed,
        devices,
        SimConfig {
            transcript: true,
            max_doc_bytes: LIMIT,
            ..SimConfig::default()
        },
    )
}

/// Adds `n` changes of 3,000 incompressible bytes each to `big()` on node `idx` (more than
/// [`LIMIT`] together, each one well within it).
fn grow(sim: &mut Sim, idx: usize, first: usize, n: usize) {
    let seed = sim.seed;
    sim.with_core(idx, |core, now| {
        assert!(core.open(now, &big(), true).is_ok());
        for i in first..first + n {
            let mut x = (seed + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64;
            let value: Vec<u8> = (0..3_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            core.change(now, &big(), |am| {
                let mut tx = am.transaction();
                tx.put(automerge::ROOT, format!("part{i}"), value).expect("put");
                tx.commit();
            })
            .expect("change");
        }
    });
}

/// Every document message for `big()` in the transcript (DocWhole and DocChanges while the
/// document was small, DocSync) stays within [`LIMIT`]; returns the number of DocSync messages
/// carrying changes.
fn check_bounded(sim: &Sim) -> usize {
    let mut carrying = 0;
    for line in &sim.transcript {
        let Some(at) = line.find("{notes/big, ") else {
            continue;
        };
        let size: usize = line[at + 12..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no size in {line}"));
        assert!(
            size <= LIMIT,
            "seed {}: {size} B over the limit: {line}",
            sim.seed
        );
        if line.contains("DocSync{") && !line.contains("changes:0}") {
            carrying += 1;
        }
    }
    carrying
}

/// The number of `part*` keys node `idx` stores in `big()`.
fn stored_parts(sim: &Sim, idx: usize) -> usize {
    sim.stored_keys(idx, &big())
        .iter()
        .filter(|k| k.starts_with("part"))
        .count()
}

fn doc_len(sim: &Sim, idx: usize) -> usize {
    sim.nodes[idx]
        .host
        .core
        .as_ref()
        .and_then(|c| c.doc(&big()).map(|am| am.save().len()))
        .unwrap_or(0)
}

// HS-SYNC-9: live push of a document too large to go whole, then a later change too large for
// one sync message, reach every node, each message within the limit.
#[test]
fn a_large_document_is_pushed_as_bounded_doc_sync() {
    for seed in crate::seeds::or(0..8) {
        let mut sim = sim(seed, 2);
        assert!(sim.settle(60_000), "{}", sim.describe());
        grow(&mut sim, 1, 0, 10);
        assert!(doc_len(&sim, 1) > 3 * LIMIT, "the document is over the limit");
        assert!(sim.settle(120_000), "seed {seed}\n{}", sim.describe());
        for idx in [SERVER, 1, 2] {
            assert_eq!(stored_parts(&sim, idx), 10, "seed {seed}: node {idx}");
        }
        // A change set too large for one sync message on a document the peers already share.
        grow(&mut sim, 2, 10, 6);
        assert!(sim.settle(120_000), "seed {seed}\n{}", sim.describe());
        sim.check_converged(&[SERVER, 1, 2]).unwrap();
        for idx in [SERVER, 1, 2] {
            assert_eq!(stored_parts(&sim, idx), 16, "seed {seed}: node {idx}");
        }
        let carrying = check_bounded(&sim);
        assert!(carrying >= 8, "seed {seed}: split into {carrying} messages");
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}

// HS-SYNC-9: a peer that lacks a large document — found by reconciliation (version 1), by a
// resume (version 2), or as a newly paired device — receives it as bounded DocSync.
#[test]
fn a_peer_lacking_a_large_document_receives_it() {
    for seed in crate::seeds::or(0..8) {
        for versions in [vec![1], vec![1, 2]] {
            let mut sim = sim(seed, 2);
            for idx in [SERVER, 1, 2] {
                sim.nodes[idx].host.versions = versions.clone();
                sim.crash(idx);
                sim.restart(idx);
            }
            assert!(sim.settle(60_000), "{}", sim.describe());
            sim.crash(2);
            grow(&mut sim, 1, 0, 10);
            assert!(sim.settle(120_000), "seed {seed}\n{}", sim.describe());
            sim.restart(2);
            let late = sim.add_node("d3", false);
            sim.pair(late);
            assert!(
                sim.settle(120_000),
                "seed {seed} {versions:?}\n{}",
                sim.describe()
            );
            sim.check_converged(&[SERVER, 1, 2, late]).unwrap();
            for idx in [SERVER, 1, 2, late] {
                assert_eq!(
                    stored_parts(&sim, idx),
                    10,
                    "seed {seed} {versions:?}: node {idx}"
                );
            }
            check_bounded(&sim);
            assert!(sim.violations.is_empty(), "{:?}", sim.violations);
        }
    }
}
