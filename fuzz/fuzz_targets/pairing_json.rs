//! Fuzz target `pairing_json`: see `humansync_fuzz::targets::pairing_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::pairing_json::run(data));
