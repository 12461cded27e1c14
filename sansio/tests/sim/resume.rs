//! Version 2: reconnects resume from cursors into each other's change log (HS-RESUME-1 ..
//! HS-RESUME-6), checked on what crosses the wire and on what each node ends up holding.

use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

fn doc(name: &str) -> DocId {
    DocId::new(format!("notes/{name}")).expect("valid id")
}

fn quiet(seed: u64) -> Sim {
    let cfg = SimConfig {
        loss: 0.0,
        duplicate: 0.0,
        transcript: true,
        ..SimConfig::default()
    };
    Sim::new(seed, 2, cfg)
}

/// Transcript lines sent between `a` and `b` (either way) from line `from` on.
fn between(sim: &Sim, from: usize, a: &str, b: &str) -> Vec<String> {
    let ab = format!(" {a}->{b} ");
    let ba = format!(" {b}->{a} ");
    sim.transcript[from..]
        .iter()
        .filter(|l| l.contains(&ab) || l.contains(&ba))
        .cloned()
        .collect()
}

/// d1 creates one note and edits another while d2 is away; d1 then leaves and d2 comes back:
/// the server's answer to d2's Resume holds both — the new note received whole (HS-SYNC-1) is in
/// the server's log as much as the edited one — and no Reconcile crosses.
#[test]
fn what_reached_the_server_from_one_device_resumes_to_another() {
    for seed in crate::seeds::or(0..10) {
        let mut sim = quiet(seed);
        sim.edit(1, &doc("old"), "v1");
        assert!(sim.settle(60_000), "{}", sim.describe());
        // Cursors are exchanged on the settled sessions, at most one Synced per
        // SYNCED_INTERVAL_MS (HS-RESUME-5); then d2 goes away.
        sim.run_for(2 * humansync_protocol::limits::SYNCED_INTERVAL_MS);
        sim.set_cut(SERVER, 2, true);
        sim.set_cut(1, 2, true);
        sim.edit(1, &doc("new"), "created while d2 was away");
        sim.edit(1, &doc("old"), "v2");
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.set_cut(SERVER, 1, true);
        let from = sim.transcript.len();
        sim.set_cut(SERVER, 2, false);
        assert!(sim.settle(60_000), "{}", sim.describe());
        let lines = between(&sim, from, "server", "d2");
        let text = lines.join("\n");
        assert!(
            !text.contains("Reconcile"),
            "seed {seed}: reconciled instead of resuming\n{text}"
        );
        assert!(text.contains("DocChanges{notes/old"), "seed {seed}: {text}");
        assert!(
            text.contains("DocWhole{notes/new") || text.contains("DocChanges{notes/new"),
            "seed {seed}: {text}"
        );
        assert_eq!(
            text.matches("Resumed{complete:true}").count(),
            2,
            "seed {seed}: {text}"
        );
        assert!(
            sim.stored_keys(2, &doc("old")).contains(&"v2".to_owned()),
            "seed {seed}: d2 lacks the edit"
        );
        assert!(
            !sim.stored_keys(2, &doc("new")).is_empty(),
            "seed {seed}: d2 lacks the note created while it was away"
        );
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}

/// A restarted device has a new log, so its answer is incomplete (HS-RESUME-3); it still gets the
/// server's changes by resume, then checks the rest with one whole-set fingerprint, which the
/// server answers all-Skip (HS-RESUME-6). A change the device made before restarting but after
/// its last Synced is found by that reconciliation.
#[test]
fn a_restarted_device_resumes_and_then_checks_its_own_side_in_one_round() {
    for seed in crate::seeds::or(0..10) {
        let mut sim = quiet(seed);
        sim.edit(SERVER, &doc("a"), "s1");
        sim.edit(1, &doc("b"), "d1");
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.run_for(2 * humansync_protocol::limits::SYNCED_INTERVAL_MS);
        sim.set_cut(SERVER, 1, true);
        sim.set_cut(1, 2, true);
        sim.edit(SERVER, &doc("a"), "s2");
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.crash(1);
        sim.restart(1);
        let from = sim.transcript.len();
        sim.set_cut(SERVER, 1, false);
        assert!(sim.settle(60_000), "{}", sim.describe());
        let text = between(&sim, from, "server", "d1").join("\n");
        assert!(text.contains("DocChanges{notes/a"), "seed {seed}: {text}");
        assert!(text.contains("Resumed{complete:false}"), "seed {seed}: {text}");
        assert!(
            text.contains("Reconcile[fp(2)]"),
            "seed {seed}: one whole-set range\n{text}"
        );
        assert!(text.contains("Reconcile[skip]"), "seed {seed}: {text}");
        assert!(
            sim.stored_keys(1, &doc("a")).contains(&"s2".to_owned()),
            "seed {seed}"
        );

        // Offline change on d1, then a restart before any Synced could carry it: the
        // reconciliation after the resume finds it.
        sim.set_cut(SERVER, 1, true);
        sim.edit(1, &doc("b"), "offline");
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.crash(1);
        sim.restart(1);
        sim.set_cut(SERVER, 1, false);
        assert!(sim.settle(60_000), "{}", sim.describe());
        assert!(
            sim.stored_keys(SERVER, &doc("b")).contains(&"offline".to_owned()),
            "seed {seed}: the server lacks d1's offline edit"
        );
        sim.heal_all();
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.check_converged(&[SERVER, 1, 2]).expect("converged");
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}

/// A version-1 device next to version-2 nodes: its sessions negotiate 1 and reconcile ranges,
/// never see a version-2 message (HS-MSG-5), and everything converges.
#[test]
fn a_version_1_device_interoperates() {
    for seed in crate::seeds::or(0..10) {
        let mut sim = quiet(seed);
        sim.nodes[2].host.versions = vec![humansync_protocol::V1];
        sim.crash(2);
        sim.restart(2);
        sim.edit(1, &doc("x"), "from d1");
        sim.edit(2, &doc("y"), "from d2");
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.disconnect(2);
        sim.edit(SERVER, &doc("x"), "from the server");
        assert!(sim.settle(60_000), "{}", sim.describe());
        let with_v1: Vec<String> = sim
            .transcript
            .iter()
            .filter(|l| l.contains("->d2 ") || l.contains(" d2->"))
            .cloned()
            .collect();
        for line in &with_v1 {
            for v2 in ["Resume", "DocChanges", "Synced"] {
                assert!(!line.contains(v2), "seed {seed}: {line}");
            }
        }
        assert!(
            with_v1.iter().any(|l| l.contains("Welcome{version:1")),
            "seed {seed}"
        );
        sim.check_converged(&[SERVER, 1, 2]).expect("converged");
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}

/// Whoever dials, the Reconcile that follows an incomplete resume compares the sets after both
/// sides applied the other's answer (HS-RESUME-6): with slow disks, a restarted device that is
/// still applying the server's DocChanges holds the server's Reconcile until it is done, so no
/// document is synced twice.
#[test]
fn the_reconcile_after_a_resume_waits_for_the_answer_to_be_applied() {
    for seed in crate::seeds::or(0..20) {
        let cfg = SimConfig {
            loss: 0.0,
            duplicate: 0.0,
            io_ms: (20, 60),
            transcript: true,
            ..SimConfig::default()
        };
        let mut sim = Sim::new(seed, 1, cfg);
        for i in 0..30 {
            sim.edit(SERVER, &doc(&format!("n{i}")), "v1");
        }
        assert!(sim.settle(120_000), "{}", sim.describe());
        sim.run_for(2 * humansync_protocol::limits::SYNCED_INTERVAL_MS);
        sim.set_cut(SERVER, 1, true);
        for i in 0..30 {
            sim.edit(SERVER, &doc(&format!("n{i}")), "v2");
        }
        assert!(sim.settle(120_000), "{}", sim.describe());
        sim.crash(1);
        sim.restart(1);
        let from = sim.transcript.len();
        sim.set_cut(SERVER, 1, false);
        assert!(sim.settle(120_000), "{}", sim.describe());
        let text = between(&sim, from, "server", "d1").join("\n");
        assert_eq!(text.matches("DocChanges{").count(), 30, "seed {seed}: {text}");
        // The only DocSync allowed is the acknowledgement of each DocChanges (HS-RESUME-4): no
        // need, no changes, `have` equal to `heads`.
        let is_ack = |l: &&str| {
            let field = |name: &str| {
                l.split(name)
                    .nth(1)
                    .and_then(|r| r.split(']').next())
                    .map(str::to_owned)
            };
            l.contains("need:[]") && l.ends_with("changes:0}") && field("heads:[") == field("have:[")
        };
        let syncs: Vec<&str> = text.lines().filter(|l| l.contains("DocSync{notes/")).collect();
        assert!(
            syncs.iter().all(is_ack) && syncs.len() <= 30,
            "seed {seed}: synced again\n{text}"
        );
        assert!(text.contains("Reconcile[skip]"), "seed {seed}: {text}");
        sim.check_converged(&[SERVER, 1]).expect("converged");
    }
}
