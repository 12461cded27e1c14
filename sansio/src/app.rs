//! App requests: reads, changes and deletes of documents that the core completes by id.
//!
//! A driver hands the core an [`AppRequest`] with an id of its choosing
//! ([`crate::Core::handle_app_request`]); the core runs it once its document is loaded — queued
//! behind the load like any other work on the document — and answers with exactly one
//! [`crate::Output::AppDone`] carrying the same id: at once for a read or an unchanged document,
//! once the save is durable for a change (HS-SYNC-8), once the tombstone is durable for a delete
//! (HS-DOC-5). The driver keeps nothing but the reply it owes for each id.

use automerge::Automerge;
use humansync_protocol::DocId;

/// Identifies one app request; chosen by the driver, echoed by [`crate::Output::AppDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppRequestId(pub u64);

/// A read of a loaded document. It hands its result to the app itself (a channel it captured).
pub type ReadFn = Box<dyn FnOnce(&Automerge) + Send>;

/// A change of a loaded document (use `Automerge::transact` inside). It hands its result to the
/// app itself; a change that leaves the heads as they were is answered at once.
pub type ChangeFn = Box<dyn FnOnce(&mut Automerge) + Send>;

/// What the app asks of a document. Reads and changes of a document not stored yet create it
/// empty (it is stored and announced with its first change).
pub enum AppRequest {
    /// Run `f` on the document.
    Read {
        /// The document.
        doc: DocId,
        /// The read.
        f: ReadFn,
    },
    /// Run `f` on the document and make what it changed durable.
    Change {
        /// The document.
        doc: DocId,
        /// The change.
        f: ChangeFn,
    },
    /// Delete the document for good (HS-DOC-5).
    Delete {
        /// The document.
        doc: DocId,
    },
}

impl AppRequest {
    /// The document the request is about.
    pub fn doc(&self) -> &DocId {
        match self {
            AppRequest::Read { doc, .. } | AppRequest::Change { doc, .. } | AppRequest::Delete { doc } => doc,
        }
    }
}

impl std::fmt::Debug for AppRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            AppRequest::Read { .. } => "Read",
            AppRequest::Change { .. } => "Change",
            AppRequest::Delete { .. } => "Delete",
        };
        f.debug_struct(kind).field("doc", self.doc()).finish()
    }
}
