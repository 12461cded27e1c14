//! Fuzz target `registry_record`: see `humansync_fuzz::targets::registry_record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::registry_record::run(data));
