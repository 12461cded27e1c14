//! What `sync_status` reports while a session reconciles (HS-SYNC-7, HS-RECON-10).

use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

fn doc(name: String) -> DocId {
    DocId::new(format!("notes/{name}")).expect("valid id")
}

/// HS-SYNC-7: a node that reports a peer up to date, with nothing of its own still on the way to
/// that peer, has nothing the peer lacks.
fn up_to_date_means_the_peer_has_it_all(sim: &Sim) -> Result<(), String> {
    for (a, b) in [(SERVER, 1), (1, SERVER)] {
        let (Some(core_a), Some(core_b)) = (&sim.nodes[a].host.core, &sim.nodes[b].host.core) else {
            continue;
        };
        let claims = core_a
            .status()
            .peers
            .iter()
            .any(|p| p.peer == sim.nodes[b].id() && p.up_to_date);
        if !claims || sim.undelivered(a, b) > 0 {
            continue;
        }
        if let Some(missing) = core_a.list("").into_iter().find(|d| core_b.digest(d).is_none()) {
            return Err(format!(
                "t={:?} seed {}: {} reports {} up to date, sends nothing more, yet {} lacks {missing}",
                sim.now,
                sim.seed,
                sim.nodes[a].name(),
                sim.nodes[b].name(),
                sim.nodes[b].name()
            ));
        }
    }
    Ok(())
}

/// HS-RECON-10: whichever side processes the last `Items` range sends the all-`Skip` that ends
/// reconciliation only after the DocWant / DocWhole / DocSync messages it caused, so the peer
/// that receives the all-`Skip` already knows what is being asked of it. Before, the peer
/// reported "up to date" while a DocWant for one of its documents was still on the way.
/// Small sets (answered with `Items` at once) and larger ones (split first) both.
#[test]
fn a_peer_is_up_to_date_only_once_it_has_every_document() {
    for (seed, per_side) in (0..12).map(|s| (s, 3)).chain((100..106).map(|s| (s, 40))) {
        let mut sim = Sim::new(seed, 1, SimConfig::default());
        assert!(
            sim.settle(60_000),
            "seed {seed}: initial settle\n{}",
            sim.describe()
        );
        sim.set_cut(SERVER, 1, true);
        for i in 0..per_side {
            sim.edit(SERVER, &doc(format!("s{i}")), "on-server");
            sim.edit(1, &doc(format!("d{i}")), "on-device");
        }
        sim.edit(SERVER, &doc("both".into()), "server-side");
        sim.edit(1, &doc("both".into()), "device-side");
        sim.run_for(1_000);
        sim.set_cut(SERVER, 1, false);
        sim.run_checked(30_000, up_to_date_means_the_peer_has_it_all)
            .unwrap_or_else(|e| panic!("{e}\n{}", sim.describe()));
        assert!(sim.settle(60_000), "seed {seed}: settle\n{}", sim.describe());
        sim.check_converged(&[SERVER, 1]).unwrap();
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}

/// HS-SYNC-7 (issue 20, the soak's `up_to_date_in_flight`): a peer is reported up to date only
/// once it holds every change of ours — a change still on its way to it (live push of a document
/// the two never synced directly, sent whole; a resume's answer; a reconciliation's document)
/// does not count as held because it was sent. Checked after every simulated event.
#[test]
fn up_to_date_is_never_claimed_while_a_change_is_in_flight() {
    use humansync_sansio::testing::false_up_to_date_claims;
    let check = |sim: &Sim| match false_up_to_date_claims(sim).first() {
        Some(claim) => Err(claim.clone()),
        None => Ok(()),
    };
    for seed in crate::seeds::or(0..12) {
        let mut sim = Sim::new(seed, 2, SimConfig::default());
        assert!(
            sim.settle(60_000),
            "seed {seed}: initial settle\n{}",
            sim.describe()
        );
        for round in 0..6 {
            let (writer, name) = (1 + round % 2, format!("r{}", round % 3));
            sim.edit(writer, &doc(name), &format!("k{round}"));
            sim.run_checked(3_000, check)
                .unwrap_or_else(|e| panic!("{e}\n{}", sim.describe()));
        }
        // A peer that was away catches up by resume or reconciliation.
        sim.crash(2);
        sim.edit(1, &doc("away".into()), "while-away");
        sim.edit(1, &doc("r0".into()), "while-away");
        sim.run_checked(3_000, check)
            .unwrap_or_else(|e| panic!("{e}\n{}", sim.describe()));
        sim.restart(2);
        sim.run_checked(10_000, check)
            .unwrap_or_else(|e| panic!("{e}\n{}", sim.describe()));
        assert!(sim.settle(60_000), "seed {seed}: settle\n{}", sim.describe());
        sim.check_converged(&[SERVER, 1, 2]).unwrap();
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}
