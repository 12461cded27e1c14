//! Fuzz target `recon`: see `humansync_fuzz::targets::recon`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::recon::run(data));
