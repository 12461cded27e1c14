//! Fuzz target `pairing_guard`: see `humansync_fuzz::targets::pairing_guard`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::pairing_guard::run(data));
