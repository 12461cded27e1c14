//! Fuzz target `sealed_blob_files`: see `humansync_fuzz::targets::sealed_blob_files`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::sealed_blob_files::run(data));
