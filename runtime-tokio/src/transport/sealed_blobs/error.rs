//! Typed errors of the sealed blob store. Every variant names the file it is about.

use std::path::PathBuf;

/// Why the sealed blob store could not open, read or write a file. All are local faults: the
/// store never serves bytes that failed authentication.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealedBlobError {
    /// A file could not be read, written, synced or renamed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store was sealed with another data key (its `keycheck` names a different key id).
    #[error("wrong data key for the blob store: {} names key {found}, the key given is {given}", path.display())]
    WrongKey {
        /// The key check file.
        path: PathBuf,
        /// The key id stored in it.
        found: String,
        /// The id of the key given.
        given: String,
    },
    /// A sealed record (a chunk group, a blob's state, the tags) failed authentication: altered,
    /// moved from another place or blob, or sealed under another key. The group or blob is
    /// treated as missing and fetched again from a peer.
    #[error("{} failed authentication ({what}): tampered, moved or sealed with another key", path.display())]
    Tampered {
        /// The file.
        path: PathBuf,
        /// Which record (e.g. "chunk group 3").
        what: String,
    },
    /// A file is not in the format this version writes (bad magic, truncated, a size out of
    /// bounds). Checked before anything is allocated from its contents.
    #[error("{} is malformed: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The OS random source failed (nonces).
    #[error("no OS randomness for nonces: {0}")]
    Random(String),
}

impl SealedBlobError {
    /// An I/O error while doing `action` on `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SealedBlobError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// A malformed file.
    pub(crate) fn malformed(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        SealedBlobError::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// This error as an `io::Error` (what iroh-blobs' channels carry), keeping its message and
    /// kind: a tampered or malformed record is `InvalidData`.
    pub(crate) fn into_io(self) -> std::io::Error {
        let kind = match &self {
            SealedBlobError::Io { source, .. } => source.kind(),
            SealedBlobError::Tampered { .. } | SealedBlobError::Malformed { .. } => {
                std::io::ErrorKind::InvalidData
            }
            SealedBlobError::WrongKey { .. } => std::io::ErrorKind::PermissionDenied,
            SealedBlobError::Random(_) => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self)
    }
}
