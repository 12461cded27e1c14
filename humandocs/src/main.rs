//! Humandocs: the notes app built on `humansync`.
//!
//! Not built yet: it lands with the Humandocs issue. This binary says so and
//! exits with status 2.

fn main() -> std::process::ExitCode {
    eprintln!("humandocs: not implemented yet (see the Humandocs issue)");
    std::process::ExitCode::from(2)
}
