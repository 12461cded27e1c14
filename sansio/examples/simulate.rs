//! Watch the HumanSync core sync a few simulated devices and a server over a lossy fake network.
//!
//! ```text
//! cargo run -p humansync-sansio --features testing --example simulate -- [SEED] [DEVICES]
//! ```
//! Prints every message exchanged, then the final state of each node. Same seed, same run.

use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args
        .next()
        .map(|s| s.parse().map_err(|_| "SEED must be a number"))
        .transpose()?
        .unwrap_or(1);
    let devices: usize = args
        .next()
        .map(|s| s.parse().map_err(|_| "DEVICES must be a number"))
        .transpose()?
        .unwrap_or(2)
        .clamp(1, 8);
    let mut sim = Sim::new(
        seed,
        devices,
        SimConfig {
            transcript: true,
            ..SimConfig::default()
        },
    );
    let doc = DocId::new("notes/shopping-list").map_err(|e| e.to_string())?;

    println!("# seed {seed}: a server and {devices} paired devices");
    sim.settle(60_000);
    println!("# d1 writes while everyone is online");
    sim.edit(1, &doc, "milk");
    sim.settle(60_000);
    println!("# d1 goes offline; both d1 and the last device edit; d1 comes back");
    sim.set_cut(1, SERVER, true);
    for other in 2..=devices {
        sim.set_cut(1, other, true);
    }
    sim.edit(1, &doc, "eggs");
    sim.edit(devices, &doc, "bread");
    sim.run_for(2_000);
    sim.heal_all();
    if !sim.settle(120_000) {
        return Err(format!("did not settle:\n{}", sim.describe()));
    }
    for line in &sim.transcript {
        println!("{line}");
    }
    let members: Vec<usize> = (0..=devices).collect();
    sim.check_converged(&members)?;
    println!(
        "\n# converged: every node holds {:?}",
        sim.stored_keys(SERVER, &doc)
    );
    print!("{}", sim.describe_state());
    Ok(())
}
