//! Effects the core asks the runtime to perform, and their results (samod-core's IoTask / IoResult shape).

use bytes::Bytes;
use humansync_protocol::{BlobHash, ChangeHash, Cursor, DeviceId, DocId};

/// Identifies one I/O task; the runtime answers it with [`crate::Core::handle_io_result`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IoTaskId(pub u64);

/// A document's heads: almost always one, kept inline (no allocation) where it is one.
pub type Heads = smallvec::SmallVec<[ChangeHash; 1]>;

/// What the core knows about a stored document without loading it: the runtime's index row.
///
/// Both the core and the store keep one per stored document for as long as they run, so its size
/// is most of an idle server's memory (issue 22 §2): 64 bytes, with the usual single head inline
/// and no allocation for the usual empty blob list (it was 56 bytes plus a 32-byte allocation
/// for the head).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocMeta {
    /// Heads at the last durable save (sorted).
    pub heads: Heads,
    /// Blob hashes the document references.
    pub blobs: Box<[BlobHash]>,
    /// True once the document is deleted for good (HS-DOC-5); heads and blobs are then empty.
    pub tombstone: bool,
}

/// One persisted Automerge sync state: the peer and `automerge::sync::State::encode()` bytes (HS-SYNC-3).
pub type PeerSyncState = (DeviceId, Vec<u8>);

/// How a document's bytes are to be written.
///
/// The bytes are shared ([`Bytes`]): where the core keeps a write until the store answers (a
/// whole document or changes from a peer, stored unparsed, which a full disk may refuse), the
/// kept write and the task point at one buffer instead of two copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocWrite {
    /// Append these change bytes (`save_after` output) to what is stored.
    Append(Bytes),
    /// Replace what is stored with this complete save (compaction or first write).
    Replace(Bytes),
}

impl DocWrite {
    /// The bytes to write.
    pub fn bytes(&self) -> &Bytes {
        match self {
            DocWrite::Append(bytes) | DocWrite::Replace(bytes) => bytes,
        }
    }
}

/// An effect for the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoAction {
    /// Read a document's stored bytes and sync states. Answer with [`IoResult::Loaded`] or [`IoResult::NotFound`] / [`IoResult::Failed`].
    LoadDoc {
        /// The document.
        doc: DocId,
    },
    /// Durably write a document and update the index row; answer with [`IoResult::Done`] once it is on disk (HS-SYNC-8).
    SaveDoc {
        /// The document.
        doc: DocId,
        /// The bytes to write, if the content changed.
        write: Option<DocWrite>,
        /// The new index row.
        meta: DocMeta,
        /// Sync states that changed.
        sync_states: Vec<PeerSyncState>,
    },
    /// Durably replace the document with a tombstone (HS-DOC-5); answer with [`IoResult::Done`].
    DeleteDoc {
        /// The document.
        doc: DocId,
    },
    /// Durably replace the persisted cursors into peers' change logs (HS-RESUME-5) with these;
    /// answer with [`IoResult::Done`]. Losing the write only costs a fuller resume later.
    SaveCursors {
        /// Every cursor, by peer.
        cursors: Vec<(DeviceId, Cursor)>,
    },
    /// Release a held blob (HS-BLOB-4): its grace period ended and no live document references
    /// it. The runtime MUST stop keeping it (the store deletes its bytes) and answer
    /// [`IoResult::Done`], or [`IoResult::Failed`] if it could not (the blob is then held again).
    /// Releases and keeps of one blob MUST take effect in the order the core asked for them.
    ReleaseBlob {
        /// The blob.
        hash: BlobHash,
    },
    /// Durably replace the persisted ages of unreferenced blobs with these (milliseconds each has
    /// been unreferenced, HS-BLOB-4); answer with [`IoResult::Done`]. Hand them back in
    /// [`crate::Startup::blob_ages`], each increased by the time until the next start.
    SaveBlobAges {
        /// Every unreferenced held blob and its age in milliseconds.
        ages: Vec<(BlobHash, u64)>,
    },
    /// Fetch a blob from a peer over the blobs ALPN; answer with [`IoResult::Done`] when complete or [`IoResult::Failed`].
    FetchBlob {
        /// The blob.
        hash: BlobHash,
        /// The peer that said it holds it.
        from: DeviceId,
    },
}

/// A task for the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoTask {
    /// Answer with this id.
    pub id: IoTaskId,
    /// What to do.
    pub action: IoAction,
}

/// The runtime's answer to an [`IoTask`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoResult {
    /// A document's stored bytes and persisted sync states.
    Loaded {
        /// Saved bytes: a save followed by zero or more appended change chunks.
        bytes: Vec<u8>,
        /// Persisted sync states for this document.
        sync_states: Vec<PeerSyncState>,
    },
    /// The document is not stored.
    NotFound,
    /// The task completed.
    Done,
    /// The task failed; `reason` is for logs.
    Failed {
        /// Why.
        reason: String,
    },
}
