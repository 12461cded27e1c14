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
