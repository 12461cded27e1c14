//! Fuzz target `automerge_bytes`: see `humansync_fuzz::targets::automerge_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| humansync_fuzz::targets::automerge_bytes::run(data));
