//! Message transcripts of the canonical flows (SPEC.md sequence diagrams), as insta snapshots:
//! any change to who sends what, in which order, is a visible diff.

use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

fn quiet() -> SimConfig {
    SimConfig {
        loss: 0.0,
        duplicate: 0.0,
        latency_ms: (5, 5),
        io_ms: (1, 1),
        transcript: true,
        crossing_dials: 0.0,
        ..SimConfig::default()
    }
}

fn note() -> DocId {
    DocId::new("notes/shopping-list").expect("id")
}

fn take(sim: &mut Sim) -> String {
    let lines = std::mem::take(&mut sim.transcript);
    lines.join("\n")
}

/// HS-REG-10, HS-SYNC-6: `_devices` is synced first when the digests differ, before any Reconcile.
#[test]
fn pairing_and_first_sync_of_a_new_device() {
    let mut sim = Sim::new(11, 1, quiet());
    assert!(sim.settle(60_000));
    sim.edit(1, &note(), "milk");
    assert!(sim.settle(60_000));
    take(&mut sim);
    // A second device pairs: the server signs its record; the device connects, learns the registry
    // first (HS-REG-6), then reconciles and receives the document whole (HS-SYNC-1).
    let d2 = sim.add_node("d2", false);
    sim.pair(d2);
    assert!(sim.settle(60_000));
    sim.check_converged(&[SERVER, 1, d2]).expect("converged");
    insta::assert_snapshot!("pairing_and_first_sync", take(&mut sim));
}

#[test]
fn reconnect_with_no_change() {
    let mut sim = Sim::new(12, 1, quiet());
    sim.edit(1, &note(), "milk");
    assert!(sim.settle(60_000));
    take(&mut sim);
    sim.disconnect(1);
    assert!(sim.settle(60_000));
    insta::assert_snapshot!("reconnect_no_change", take(&mut sim));
}

/// HS-SYNC-4: a local change is pushed at once; the peer holds the previous heads, so only the new
/// change goes, as one DocChanges with no answer (HS-RESUME-4).
#[test]
fn live_edit() {
    let mut sim = Sim::new(13, 1, quiet());
    sim.edit(1, &note(), "milk");
    assert!(sim.settle(60_000));
    take(&mut sim);
    sim.edit(1, &note(), "eggs");
    assert!(sim.settle(60_000));
    insta::assert_snapshot!("live_edit", take(&mut sim));
}

#[test]
fn revocation_with_the_server_up() {
    let mut sim = Sim::new(14, 2, quiet());
    assert!(sim.settle(60_000));
    take(&mut sim);
    sim.revoke(2);
    assert!(sim.settle(60_000));
    insta::assert_snapshot!("revocation_server_up", take(&mut sim));
}

#[test]
fn revocation_with_the_server_down() {
    let mut sim = Sim::new(15, 3, quiet());
    assert!(sim.settle(60_000));
    sim.set_cut(2, SERVER, true);
    sim.set_cut(1, 2, true);
    take(&mut sim);
    sim.revoke(3);
    sim.run_for(2_000);
    sim.crash(SERVER);
    sim.heal_all();
    assert!(sim.settle(60_000));
    insta::assert_snapshot!("revocation_server_down", take(&mut sim));
}

/// Live edits in a row (HS-SYNC-4, HS-RESUME-4, HS-SYNC-14): each goes as one DocChanges and is
/// acknowledged by a `Held` (version 3), never by a sync message; an acknowledgement of an
/// earlier edit that arrives while a later one is in flight does not make the sender re-send the
/// changes in flight (as a 264-byte DocSync: bench 9 measured 406 B per edit).
#[test]
fn rapid_live_edits_are_changes_and_acknowledgements() {
    let mut sim = Sim::new(13, 1, quiet());
    sim.edit(1, &note(), "milk");
    assert!(sim.settle(60_000));
    take(&mut sim);
    for i in 0..4 {
        sim.edit(1, &note(), &format!("e{i}"));
        sim.run_for(5);
    }
    assert!(sim.settle(60_000));
    let text = take(&mut sim);
    assert_eq!(text.matches("DocChanges{").count(), 4, "{text}");
    assert_eq!(text.matches("DocSync{").count(), 0, "{text}");
    assert_eq!(text.matches("Held{").count(), 4, "{text}");
}
