//! Fuzz target `message`: see `humansync_fuzz::targets::message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::message::run(data));
