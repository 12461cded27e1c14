//! Who dials whom, and duplicate sessions, over seeded simulations (HS-TRANSPORT-3,
//! HS-TRANSPORT-4): reconnects cost no session closed as DUPLICATE, and a half-open session left
//! behind by a crashed peer does not keep fresh sessions out.

use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

fn cfg() -> SimConfig {
    SimConfig {
        transcript: true,
        crossing_dials: 0.0,
        ..SimConfig::default()
    }
}

fn note() -> DocId {
    DocId::new("notes/a").expect("id")
}

/// Sessions closed as DUPLICATE, from the Close frames in the transcript.
fn duplicate_closes(sim: &Sim) -> usize {
    sim.transcript
        .iter()
        .filter(|line| line.contains("Close{duplicate"))
        .count()
}

// HS-TRANSPORT-4: a device and the server that lose their connection reconnect with one dial:
// no session is opened only to be closed as a duplicate after part of a resume.
#[test]
fn reconnects_open_no_duplicate_session() {
    let mut total = 0;
    for seed in crate::seeds::or(0..20) {
        let mut sim = Sim::new(seed, 2, cfg());
        assert!(sim.settle(60_000), "{}", sim.describe());
        for round in 0..10u64 {
            let who = (round % 3) as usize;
            sim.edit(1 + (round % 2) as usize, &note(), &format!("r{round}"));
            sim.disconnect(who);
            assert!(sim.settle(60_000), "seed {seed}: {}", sim.describe());
        }
        sim.check_converged(&[SERVER, 1, 2]).expect("converged");
        total += duplicate_closes(&sim);
    }
    assert_eq!(total, 0, "sessions closed as DUPLICATE in 200 reconnects");
}

// HS-TRANSPORT-4 (soak: zombie_session): a peer killed without its connections closing at the
// other end restarts and dials again; the fresh session is kept, the half-open one closed, and
// both sides end up up to date with each other — for a device and for the server.
#[test]
fn a_half_open_session_does_not_keep_fresh_sessions_out() {
    for seed in crate::seeds::or(0..20) {
        for victim in [1, SERVER] {
            let mut sim = Sim::new(seed, 2, cfg());
            assert!(sim.settle(60_000), "{}", sim.describe());
            sim.crash_half_open(victim);
            sim.restart(victim);
            sim.edit(victim, &note(), "after-restart");
            sim.edit(2, &note(), "from-d2");
            assert!(
                sim.settle(120_000),
                "seed {seed}, victim {victim}: did not settle\n{}",
                sim.describe()
            );
            sim.check_converged(&[SERVER, 1, 2]).expect("converged");
            for (a, b) in [(victim, 2), (2, victim)] {
                let status = sim.nodes[a].host.core.as_ref().expect("up").status();
                let peer = sim.nodes[b].id();
                let sessions: Vec<_> = status.peers.iter().filter(|p| p.peer == peer).collect();
                assert_eq!(sessions.len(), 1, "seed {seed}: {} sessions", sessions.len());
                assert!(sessions[0].up_to_date, "seed {seed}");
            }
            assert!(sim.violations.is_empty(), "{:?}", sim.violations);
        }
    }
}
