//! `simulation`: a short random run of the deterministic multi-device simulation.
//!
//! Input: the seed, the device count (1..=3), the network's latency / loss / duplication,
//! then up to 15 steps (edit, delete, crash, restart, cut, heal, revoke once, wait). Then
//! every cut heals, every node restarts and the simulation settles. Checked: it settles;
//! `violations` is empty (HS-GATE-3, HS-REG-4 checks of the harness); `check_converged`
//! holds over the server and every unrevoked device.

use arbitrary::{Result, Unstructured};
use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

/// Most steps per run.
const MAX_STEPS: usize = 15;
/// Simulated time allowed to settle, ms.
const SETTLE_MS: u64 = 300_000;

/// Set this environment variable to print the steps and the message transcript of a run
/// (for reading a crash: `HUMANSYNC_FUZZ_TRACE=1 fuzz/target/.../simulation <input>`).
pub const TRACE_VAR: &str = "HUMANSYNC_FUZZ_TRACE";

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = drive(&mut u);
}

fn doc(i: u8) -> DocId {
    DocId::new(format!("app/doc-{}", i % 4)).expect("constant-shaped id is valid")
}

fn drive(u: &mut Unstructured<'_>) -> Result<()> {
    let seed: u64 = u.arbitrary()?;
    let devices = u.int_in_range(1usize..=3)?;
    let trace = std::env::var_os(TRACE_VAR).is_some();
    let cfg = SimConfig {
        latency_ms: (1, u.int_in_range(1..=40)?),
        loss: f64::from(u.int_in_range(0u8..=10)?) / 100.0,
        duplicate: f64::from(u.int_in_range(0u8..=5)?) / 100.0,
        transcript: trace,
        ..SimConfig::default()
    };
    if trace {
        eprintln!("seed {seed}, {devices} devices, {cfg:?}");
    }
    let mut sim = Sim::new(seed, devices, cfg);
    let mut revoked: Option<usize> = None;
    let mut edits = 0u32;
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        let node = u.int_in_range(1..=devices)?;
        let op = u.int_in_range(0u8..=15)?;
        if trace {
            eprintln!("t={} step: op {op} node {node}", sim.now.0);
        }
        match op {
            0..=5 => {
                let target = if u.ratio(1u8, 5)? { SERVER } else { node };
                edits += 1;
                sim.edit(target, &doc(u.arbitrary()?), &format!("e{edits}"));
            }
            6 => sim.delete(node, &doc(u.arbitrary()?)),
            7 => sim.crash(node),
            8 => sim.restart(node),
            9 => sim.crash(SERVER),
            10 => sim.restart(SERVER),
            11 => {
                let other = u.int_in_range(0..=devices)?;
                if other != node {
                    sim.set_cut(node, other, true);
                }
            }
            12 => sim.heal_all(),
            13 if revoked.is_none() && sim.nodes[SERVER].is_up() => {
                sim.revoke(node);
                revoked = Some(node);
            }
            _ => {}
        }
        sim.run_for(u.int_in_range(0..=3_000)?);
    }
    sim.heal_all();
    for i in 0..sim.nodes.len() {
        sim.restart(i);
    }
    let settled = sim.settle(SETTLE_MS);
    if trace {
        sim.transcript.iter().for_each(|line| eprintln!("{line}"));
    }
    assert!(settled, "did not settle\n{}", sim.describe());
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    let members: Vec<usize> = (0..=devices).filter(|&i| Some(i) != revoked).collect();
    if let Err(e) = sim.check_converged(&members) {
        panic!("{e}\n{}", sim.describe());
    }
    Ok(())
}
