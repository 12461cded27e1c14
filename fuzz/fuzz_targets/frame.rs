//! Fuzz target `frame`: see `humansync_fuzz::targets::frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::frame::run(data));
