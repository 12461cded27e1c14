//! One module per fuzz target; each exposes `run(data: &[u8])`.

pub mod automerge_bytes;
pub mod core_session;
pub mod frame;
pub mod message;
pub mod pairing_guard;
pub mod pairing_json;
pub mod recon;
pub mod registry_doc;
pub mod registry_record;
#[cfg(feature = "runtime")]
pub mod sealed_blob_files;
pub mod simulation;
pub mod text_ids;

/// A target's entry point.
pub type Run = fn(&[u8]);

/// Every target by name, for corpus replay and the corpus generator.
pub const ALL: &[(&str, Run)] = &[
    ("frame", frame::run),
    ("message", message::run),
    ("registry_record", registry_record::run),
    ("registry_doc", registry_doc::run),
    ("pairing_json", pairing_json::run),
    ("text_ids", text_ids::run),
    ("recon", recon::run),
    ("core_session", core_session::run),
    ("pairing_guard", pairing_guard::run),
    ("simulation", simulation::run),
    ("automerge_bytes", automerge_bytes::run),
    #[cfg(feature = "runtime")]
    ("sealed_blob_files", sealed_blob_files::run),
];
