//! Errors of the document store.

use std::path::PathBuf;

use humansync_protocol::DocId;

/// A store failure.
///
/// [`StoreError::Corrupt`] and [`StoreError::Quarantined`] concern one document and leave the
/// store usable (answer the core's `LoadDoc` with `IoResult::Failed`; it emits `Event::DocCorrupt`
/// and recovers the document from a peer). The other variants are local faults of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What the store was doing.
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A document's file failed its checks and was moved to the quarantine directory.
    #[error("document {doc} is corrupt and was quarantined: {reason}")]
    Corrupt {
        /// The document.
        doc: DocId,
        /// What check failed.
        reason: String,
    },
    /// The document was quarantined earlier and has not been rewritten since.
    #[error("document {0} is quarantined")]
    Quarantined(DocId),
    /// Another `DocStore` (in this or another process) has the directory open.
    #[error("store {0} is in use by another DocStore")]
    Locked(PathBuf),
    /// A store file does not have this version's format.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A write would not fit in one record (the limit is [`super::record::MAX_PAYLOAD`] bytes).
    #[error("document {doc}: {len} bytes exceed the store's record limit")]
    TooLarge {
        /// The document.
        doc: DocId,
        /// The size that was refused.
        len: usize,
    },
    /// The store is encrypted with another data key than the one given (HS-REST-2). Nothing was
    /// read or changed; give the right key (see README "Keys at rest").
    #[error("{path}: the store is encrypted with data key {found}, not the given key {given}")]
    WrongKey {
        /// The store's key check file.
        path: PathBuf,
        /// The id of the store's key.
        found: String,
        /// The id of the key given.
        given: String,
    },
    /// The store is encrypted and no data key was given.
    #[error("{0}: the store is encrypted; a data key is needed to open it")]
    KeyRequired(PathBuf),
    /// A data key was given but the store holds plaintext: migrate it first with
    /// [`super::DocStore::rekey`] (the node does this at start).
    #[error("{0}: the store is not encrypted; migrate it with DocStore::rekey")]
    NotEncrypted(PathBuf),
}

/// True for an OS error saying the disk (or the user's quota) is full.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

impl StoreError {
    /// The document a per-document fault concerns, `None` for faults of the whole store.
    pub fn doc_fault(&self) -> Option<&DocId> {
        match self {
            StoreError::Corrupt { doc, .. } | StoreError::Quarantined(doc) => Some(doc),
            _ => None,
        }
    }

    /// True when the disk (or a quota) is full: a local fault that ends once space is freed;
    /// the store retries by itself at the next write (nothing was acknowledged).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => is_disk_full(source),
            _ => false,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// A `map_err` adapter for I/O on `path`.
    pub(crate) fn at<'a>(
        op: &'static str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| StoreError::io(op, path, source)
    }
}
