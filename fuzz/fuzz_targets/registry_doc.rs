//! Fuzz target `registry_doc`: see `humansync_fuzz::targets::registry_doc`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::registry_doc::run(data));
