//! Replays inputs through a target on stable, without libFuzzer:
//!
//! ```text
//! cd fuzz && cargo run --release --example replay -- <target> <file>...
//! ```
//! `HUMANSYNC_FUZZ_TRACE=1` makes the `simulation` target print its steps and transcript.

use humansync_fuzz::targets::ALL;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let target = args.next().ok_or("usage: replay <target> <file>...")?;
    let (_, run) = ALL
        .iter()
        .find(|(name, _)| *name == target)
        .ok_or(format!("no target {target}"))?;
    for file in args {
        let data = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
        run(&data);
        println!("{file}: ok");
    }
    Ok(())
}
