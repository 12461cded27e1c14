//! The schedule is a function of the seed: the same seed replays the same faults, another seed
//! draws others, and every kind the issue asks for is drawn in the CI run's length.

use humansync_soak::schedule::{Fault, Schedule};

#[test]
fn the_same_seed_gives_the_same_schedule() {
    assert_eq!(Schedule::generate(42, 2), Schedule::generate(42, 2));
    assert_ne!(
        Schedule::generate(42, 2).entries,
        Schedule::generate(43, 2).entries
    );
}

#[test]
fn a_ci_length_run_draws_every_structural_event() {
    for seed in 0..20 {
        let s = Schedule::generate(seed, 2);
        let counts = s.counts();
        let n = |kind: &str| counts.get(kind).copied().unwrap_or(0);
        for kind in [
            "server_backup",
            "server_restore",
            "pair",
            "revoke",
            "kill9_device",
        ] {
            assert!(n(kind) > 0, "seed {seed}: no {kind} in {counts:?}");
        }
        assert!(
            n("link_down") + n("server_isolated") > 0,
            "seed {seed}: no partition in {counts:?}"
        );
        assert!(s.entries.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        let backup = s.entries.iter().position(|e| e.fault == Fault::ServerBackup);
        let restore = s.entries.iter().position(|e| e.fault == Fault::ServerRestore);
        assert!(
            backup < restore,
            "seed {seed}: the restore needs an earlier backup"
        );
    }
}

#[test]
fn every_fault_with_a_duration_is_undone_in_its_cycle() {
    let s = Schedule::generate(7, 6);
    for e in &s.entries {
        if let Fault::LinkDown { node } = &e.fault {
            assert!(
                s.entries.iter().any(|u| u.cycle == e.cycle
                    && u.at_ms >= e.at_ms
                    && u.fault == Fault::LinkUp { node: node.clone() }),
                "{e:?} is never undone"
            );
        }
        if e.fault == Fault::DiskFull {
            assert!(
                s.entries
                    .iter()
                    .any(|u| u.cycle == e.cycle && u.at_ms >= e.at_ms && u.fault == Fault::DiskFree)
            );
        }
    }
}
