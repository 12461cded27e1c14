//! The vector generator: builds every vector file from fixed keys and values
//! ([`crate::keys`]), so that regenerating yields byte-identical files.
//!
//! Run `cargo run -p humansync-conformance -- generate` to rewrite
//! `conformance/vectors/`; a test asserts the committed files equal a fresh
//! generation. Before writing, every generated case is checked against this
//! workspace's implementation: a case that fails is a bug in the generator or
//! a change in behaviour, and nothing is written.

mod automerge_bytes;
mod bytes;
mod digests;
mod frames;
mod ids;
mod invitations;
mod messages_invalid;
mod messages_limits;
mod messages_valid;
mod opaque;
mod pairing;
mod pairing_auth;
mod recon;
mod registry;
mod registry_records;
mod transcripts;

use std::path::{Path, PathBuf};

use crate::format::{Case, SCHEMA, VectorFile, render};
use crate::report::Verdict;

/// Cases of one file under construction; ids are `{prefix}-{nnn}` in push order.
pub(crate) struct Cases {
    prefix: &'static str,
    cases: Vec<Case>,
}

impl Cases {
    pub(crate) fn new(prefix: &'static str) -> Cases {
        Cases {
            prefix,
            cases: Vec::new(),
        }
    }

    /// Appends a case, numbering it.
    pub(crate) fn push(&mut self, mut case: Case) {
        case.id = format!("{}-{:03}", self.prefix, self.cases.len() + 1);
        self.cases.push(case);
    }

    fn file(self, description: &str) -> VectorFile {
        VectorFile {
            schema: SCHEMA.to_owned(),
            description: description.to_owned(),
            cases: self.cases,
        }
    }
}

/// A document id from a literal the generator knows to be valid.
pub(crate) fn doc(text: &str) -> humansync_protocol::DocId {
    #[allow(clippy::expect_used)]
    // Only called with literal or formatted ids that satisfy HS-DOC-1; a typo fails generation at once.
    humansync_protocol::DocId::new(text).expect("generator document ids are valid")
}

/// Every vector file: (file name, contents).
pub fn all() -> Vec<(&'static str, VectorFile)> {
    let mut messages = Cases::new("msg");
    messages_valid::add(&mut messages);
    messages_invalid::add(&mut messages);
    messages_limits::add(&mut messages);
    messages_valid::add_v2(&mut messages);
    messages_limits::add_v3(&mut messages);
    let mut pairing = Cases::new("pair");
    pairing::add(&mut pairing);
    pairing_auth::add(&mut pairing);
    vec![
        (
            "automerge_bytes.json",
            automerge_bytes::cases().file(automerge_bytes::DESCRIPTION),
        ),
        ("device_ids.json", ids::device_ids().file(ids::DEVICE_IDS)),
        ("digests.json", digests::cases().file(digests::DESCRIPTION)),
        ("doc_ids.json", ids::doc_ids().file(ids::DOC_IDS)),
        ("frames.json", frames::cases().file(frames::DESCRIPTION)),
        (
            "invitations.json",
            invitations::cases().file(invitations::DESCRIPTION),
        ),
        ("messages.json", messages.file(messages_valid::DESCRIPTION)),
        ("opaque.json", opaque::cases().file(opaque::DESCRIPTION)),
        ("pairing.json", pairing.file(pairing::DESCRIPTION)),
        ("reconciliation.json", recon::cases().file(recon::DESCRIPTION)),
        ("registry.json", registry::cases().file(registry::DESCRIPTION)),
        (
            "transcripts.json",
            transcripts::cases().file(transcripts::DESCRIPTION),
        ),
    ]
}

/// Every vector file rendered as its committed text.
pub fn render_all() -> Vec<(&'static str, String)> {
    all()
        .into_iter()
        .map(|(name, file)| (name, render(&file)))
        .collect()
}

/// Why generation refused to write.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A generated case does not hold for this implementation.
    #[error("generated case {file} {id} does not hold: {detail}")]
    CaseFails {
        /// The file.
        file: String,
        /// The case id.
        id: String,
        /// The verdict's detail.
        detail: String,
    },
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Checks every generated case against this implementation (MUST cases must
/// pass), then writes the files into `dir`. Returns the paths written.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    let files = all();
    for (name, file) in &files {
        for case in &file.cases {
            if let Verdict::Fail(detail) = crate::check::verdict(case) {
                return Err(GenerateError::CaseFails {
                    file: (*name).to_owned(),
                    id: case.id.clone(),
                    detail,
                });
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| GenerateError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, file) in files {
        let path = dir.join(name);
        std::fs::write(&path, render(&file)).map_err(|source| GenerateError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
