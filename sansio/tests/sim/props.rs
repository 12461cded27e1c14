//! Property tests of the core over many seeded simulations (convergence, gating, monotonic
//! registry; version-2 resumes and version-1 peers mixed, HS-RESUME-*). The random runs take
//! their seeds from [`crate::seeds::many`]: `SIM_SEEDS=N` runs N seeds (default 500, from
//! `SIM_SEED_START`, default 0); `SIM_SEED=S` replays one seed exactly.

use humansync_protocol::{DocId, RegistryRecord};
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

fn doc(i: u64) -> DocId {
    DocId::new(format!("app/doc-{i}")).expect("valid id")
}

/// One random run (HS-SYNC-8: every acknowledged edit survives crashes and reaches everyone;
/// HS-SYNC-7: `settle` waits for every peer to report up to date): edits everywhere under loss, reordering, duplication, partitions and crashes,
/// optionally a rogue node and a malicious registered device; then heal and check.
fn run(seed: u64) -> Result<(), String> {
    let mut probe = humansync_sansio::testing::SimRng::new(seed ^ 0x9e37_79b9);
    let devices = 2 + probe.below(3) as usize;
    let cfg = SimConfig {
        latency_ms: (1, 1 + probe.below(40)),
        loss: probe.below(10) as f64 / 100.0,
        duplicate: probe.below(5) as f64 / 100.0,
        transcript: std::env::var("SIM_TRANSCRIPT").is_ok(),
        ..SimConfig::default()
    };
    let mut sim = Sim::new(seed, devices, cfg);
    let rogue = probe.chance(0.3).then(|| sim.add_node("rogue", true));
    // HS-VER-2, HS-RESUME-2: sometimes one device speaks only version 1, so sessions with it
    // reconcile ranges while the others resume from cursors; or only versions 1 and 2, so it
    // acknowledges each document with a DocSync while the others send Held (HS-SYNC-14).
    if probe.chance(0.3) {
        let old = 1 + probe.below(devices as u64) as usize;
        sim.nodes[old].host.versions = if old.is_multiple_of(2) {
            vec![humansync_protocol::V1, humansync_protocol::V2]
        } else {
            vec![humansync_protocol::V1]
        };
        sim.crash(old);
        sim.restart(old);
    }
    let mut edit_no = 0u64;
    for _ in 0..(10 + probe.below(30)) {
        let node = 1 + probe.below(devices as u64) as usize;
        match probe.below(100) {
            0..=54 => {
                let target = if probe.chance(0.2) { SERVER } else { node };
                edit_no += 1;
                sim.edit(target, &doc(probe.below(8)), &format!("e{edit_no}"));
            }
            55..=57 => sim.delete(node, &doc(probe.below(8))),
            58..=64 => sim.crash(node),
            65..=71 => sim.restart(node),
            72..=74 => sim.crash(SERVER),
            75..=77 => sim.restart(SERVER),
            78..=84 => {
                let other = probe.below(devices as u64 + 1) as usize;
                if other != node {
                    sim.set_cut(node, other, true);
                }
            }
            85..=88 => sim.heal_all(),
            89..=90 => {
                // A registered device forges a Device record for the rogue (or a made-up id) and
                // deletes every record key from its copy of `_devices`. Neither may have any effect.
                let forger = sim.nodes[node].key.clone();
                let victim = rogue.map(|r| sim.nodes[r].id()).unwrap_or(sim.nodes[node].id());
                let forged = RegistryRecord::Device {
                    device: victim,
                    name: "forged".into(),
                    paired_at_ms: 1,
                }
                .sign(&forger)
                .map_err(|e| e.to_string())?;
                sim.with_core(node, |core, now| {
                    core.tamper_devices_doc(now, |am| {
                        humansync_sansio::registry::put_record(am, &forged);
                        delete_all_records(am);
                    })
                });
            }
            91..=94 => {
                edit_no += 1;
                sim.add_blob(node, &doc(probe.below(8)), &format!("b{edit_no}"));
            }
            _ => {}
        }
        let ms = probe.below(3_000);
        sim.run_for(ms);
    }
    sim.heal_all();
    for i in 0..sim.nodes.len() {
        if !sim.nodes[i].rogue {
            sim.restart(i);
        }
    }
    if !sim.settle(300_000) {
        if std::env::var("SIM_TRANSCRIPT").is_ok() {
            let _ = std::fs::write(format!("/tmp/sim-{seed}.log"), sim.transcript.join("\n"));
        }
        return Err(format!("did not settle\n{}", sim.describe()));
    }
    let members: Vec<usize> = (0..=devices).collect();
    sim.check_converged(&members)
        .map_err(|e| format!("{e}\n{}", sim.describe()))?;
    if !sim.violations.is_empty() {
        return Err(format!("{:?}", sim.violations));
    }
    // HS-BLOB-2: every blob referenced by a live document ends up on every member.
    for &i in &members {
        let missing = sim.missing_blobs(i);
        if !missing.is_empty() {
            return Err(format!(
                "seed {seed}: {} still misses blobs {missing:?}\n{}",
                sim.nodes[i].name(),
                sim.describe()
            ));
        }
    }
    if let Some(r) = rogue {
        // HS-GATE-3: an unregistered device receives zero application bytes.
        if sim.nodes[r].bytes_received != 0 {
            return Err(format!(
                "seed {seed}: rogue received {} bytes",
                sim.nodes[r].bytes_received
            ));
        }
    }
    Ok(())
}

fn delete_all_records(am: &mut automerge::Automerge) {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let Ok(Some((_, records))) = am.get(automerge::ROOT, "records") else {
        return;
    };
    let keys: Vec<String> = am.keys(&records).collect();
    let _ = am.transact::<_, _, automerge::AutomergeError>(|tx| {
        for key in &keys {
            tx.delete(&records, key.as_str())?;
        }
        Ok(())
    });
}

#[test]
fn random_runs_converge_and_never_breach_the_gate() {
    let mut failures = Vec::new();
    for seed in crate::seeds::many() {
        if let Err(e) = run(seed) {
            failures.push(e);
            if failures.len() >= 3 {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing seeds (replay with SIM_SEED=<seed>):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// HS-GATE-4, HS-REG-4: after a revocation reaches every peer, the revoked device can neither
/// send nor receive anything, and a restart from a stale disk does not bring it back.
#[test]
fn revoked_device_is_cut_off_everywhere() {
    for seed in crate::seeds::or(0..20) {
        let mut sim = Sim::new(
            seed,
            3,
            SimConfig {
                transcript: true,
                ..SimConfig::default()
            },
        );
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.edit(3, &doc(1), "before");
        assert!(sim.settle(60_000), "{}", sim.describe());
        sim.revoke(3);
        assert!(sim.settle(60_000), "{}", sim.describe());
        for i in [SERVER, 1, 2] {
            let status = sim.nodes[i].host.core.as_ref().map(|c| c.status()).expect("up");
            assert!(
                status.peers.iter().all(|p| p.peer != sim.nodes[3].id()),
                "seed {seed}: still connected to d3"
            );
        }
        sim.edit(3, &doc(1), "after-by-revoked");
        sim.edit(1, &doc(1), "after-by-d1");
        // A member restarting from its disk must not re-admit the revoked device.
        sim.crash(2);
        sim.restart(2);
        let settled = sim.settle(60_000);
        if !settled && std::env::var("SIM_DUMP").is_ok() {
            for line in &sim.transcript {
                eprintln!("{line}");
            }
        }
        assert!(settled, "{}", sim.describe());
        for i in [SERVER, 1, 2] {
            let keys = sim.stored_keys(i, &doc(1));
            assert!(keys.contains(&"before".to_owned()), "seed {seed}");
            assert!(keys.contains(&"after-by-d1".to_owned()), "seed {seed}");
            assert!(
                !keys.contains(&"after-by-revoked".to_owned()),
                "seed {seed}: revoked edit leaked"
            );
        }
        assert!(
            !sim.stored_keys(3, &doc(1)).contains(&"after-by-d1".to_owned()),
            "seed {seed}: revoked got an edit"
        );
        sim.check_converged(&[SERVER, 1, 2]).unwrap();
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}

/// Revocation with the server down: a device that learned it gossips it to another (HS-REG-6).
#[test]
fn revocation_spreads_between_devices_while_the_server_is_down() {
    for seed in crate::seeds::or(0..20) {
        let mut sim = Sim::new(seed, 3, SimConfig::default());
        assert!(sim.settle(60_000), "{}", sim.describe());
        // d2 is cut off from the server; d1 hears of the revocation; then the server dies.
        sim.set_cut(2, SERVER, true);
        sim.set_cut(1, 2, true);
        sim.revoke(3);
        sim.run_for(5_000);
        sim.crash(SERVER);
        sim.heal_all();
        sim.set_cut(3, 1, true);
        assert!(sim.settle(60_000), "{}", sim.describe());
        let d2 = sim.nodes[2].host.core.as_ref().expect("up");
        let d3 = sim.nodes[3].id();
        assert!(
            d2.registry()
                .status(&d3)
                .is_some_and(|s| s.revoked_at_ms.is_some()),
            "seed {seed}: d2 never learned of the revocation"
        );
        assert!(d2.status().peers.iter().all(|p| p.peer != d3), "seed {seed}");
        assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}
