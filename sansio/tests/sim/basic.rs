//! Basic flows through the deterministic simulation.

use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

fn doc(name: &str) -> DocId {
    DocId::new(format!("notes/{name}")).expect("valid id")
}

#[test]
fn edits_on_two_devices_reach_everyone() {
    let mut sim = Sim::new(
        1,
        2,
        SimConfig {
            transcript: true,
            ..SimConfig::default()
        },
    );
    assert!(sim.settle(60_000), "initial settle\n{}", sim.describe());
    sim.edit(1, &doc("a"), "k1");
    sim.edit(2, &doc("b"), "k2");
    sim.edit(2, &doc("a"), "k3");
    assert!(sim.settle(60_000), "settle after edits\n{}", sim.describe());
    sim.check_converged(&[SERVER, 1, 2]).unwrap();
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
}

/// HS-BLOB-1, HS-BLOB-2: a blob referenced as `hsblob:<hex>` is wanted, asked for, fetched from a peer that has it, and
/// announced onwards, until every node holds it — including one that was offline.
#[test]
fn referenced_blobs_reach_every_node() {
    for seed in crate::seeds::or(0..20) {
        let mut sim = Sim::new(seed, 3, SimConfig::default());
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.crash(3);
        let photo = sim.add_blob(1, &doc("album"), "photo");
        assert!(sim.settle(60_000), "{}", sim.describe());
        for i in [SERVER, 1, 2] {
            assert!(
                sim.nodes[i].host.store.blobs.contains(&photo),
                "seed {seed}: node {i} lacks the blob"
            );
            assert!(sim.missing_blobs(i).is_empty());
        }
        // d1 goes away for good; d3 comes back and must fetch the blob from someone else.
        sim.crash(1);
        sim.restart(3);
        assert!(sim.settle(60_000), "{}", sim.describe());
        assert!(
            sim.nodes[3].host.store.blobs.contains(&photo),
            "seed {seed}: d3 lacks the blob"
        );
        assert!(sim.missing_blobs(3).is_empty());
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}
