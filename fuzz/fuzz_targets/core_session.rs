//! Fuzz target `core_session`: see `humansync_fuzz::targets::core_session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::core_session::run(data));
