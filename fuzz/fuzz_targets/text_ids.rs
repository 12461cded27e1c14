//! Fuzz target `text_ids`: see `humansync_fuzz::targets::text_ids`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::text_ids::run(data));
