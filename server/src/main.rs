//! `humansync-server`: the always-on cloud peer, pairing API and device registry.
//!
//! Not built yet: it lands with the server issue. This binary says so and exits
//! with status 2 rather than pretending to serve anything.

fn main() -> std::process::ExitCode {
    eprintln!(
        "humansync-server {}: the server is not implemented yet (see the server issue). \
         Run `cargo run -p humansync-sansio --example simulate --features testing` to watch the protocol core sync simulated devices.",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::from(2)
}
