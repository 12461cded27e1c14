//! `humansync-conformance`: test vectors and a black-box runner for SPEC.md.
//!
//! Not built yet: it lands with the conformance issue. This binary says so and
//! exits with status 2.

fn main() -> std::process::ExitCode {
    eprintln!("humansync-conformance: not implemented yet (see the conformance issue)");
    std::process::ExitCode::from(2)
}
