//! Recorded state-machine transcripts of one acceptor core (HS-GATE-2,
//! HS-GATE-3, HS-VER-1..3, HS-FRAME-2, HS-FRAME-3, HS-RECON-1).

use serde_json::Value;

use super::Observed;
use crate::driver::{self, Setup, Step};
use crate::format::Case;

/// `acceptor_transcript`: `setup` and `steps` (see `crate::driver`).
/// `expected = {"steps": [per step: {"admission"?, "frames", "close", "disconnect"?}]}`.
pub(crate) fn acceptor(case: &Case) -> Result<Observed, String> {
    let setup = Setup::from_json(case.field("setup")?)?;
    let steps = case
        .field("steps")?
        .as_array()
        .ok_or("field `steps` is not a list")?
        .iter()
        .map(Step::from_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Observed::accept(run(&setup, &steps)?))
}

/// Runs the steps on a fresh core: `{"steps": [..]}`.
pub(crate) fn run(setup: &Setup, steps: &[Step]) -> Result<Value, String> {
    let mut host = driver::start(setup)?;
    let observed = steps
        .iter()
        .map(|step| driver::apply(&mut host, step))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::json!({ "steps": observed }))
}
