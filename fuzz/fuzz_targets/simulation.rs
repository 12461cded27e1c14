//! Fuzz target `simulation`: see `humansync_fuzz::targets::simulation`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::simulation::run(data));
