//! The bounded cache of parsed documents (`DocCache`), what waits on a load (`DocOp`), what an
//! outstanding I/O task was for (`PendingIo`), and eviction.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{Automerge, ReadDoc, sync};
use humansync_protocol::{BlobHash, ChangeHash, DeviceId, DocDigest, DocId, Message};

use super::Core;
use crate::{ConnId, Instant};

/// A parsed document and its per-peer sync states.
#[derive(Debug)]
pub(crate) struct LoadedDoc {
    pub(crate) am: Automerge,
    pub(crate) sync: BTreeMap<DeviceId, sync::State>,
    pub(crate) sync_dirty: BTreeSet<DeviceId>,
    /// Heads of the last save requested (what the store holds once it acknowledges).
    pub(crate) saved_heads: Vec<ChangeHash>,
    /// The store holds some version of the document (so an append is valid).
    pub(crate) stored: bool,
    /// Bytes of the last whole save (or of what the store gave at load).
    pub(crate) snapshot_bytes: usize,
    /// Bytes appended to the stored document since the last whole save.
    pub(crate) appended_bytes: usize,
    /// The blobs the content references, as of `refs_heads` (HS-BLOB-1).
    pub(crate) refs: Vec<BlobHash>,
    /// The heads `refs` was computed at; `None` before the first computation.
    pub(crate) refs_heads: Option<Vec<ChangeHash>>,
    pub(crate) last_used: Instant,
    pub(crate) pinned: bool,
}

impl LoadedDoc {
    /// The sync state with `peer`, created empty if absent.
    pub(crate) fn state(&mut self, peer: DeviceId) -> &mut sync::State {
        self.sync.entry(peer).or_default()
    }

    pub(crate) fn heads(&self) -> Vec<ChangeHash> {
        sorted_heads(&self.am)
    }
}

/// Something waiting for a document to load.
#[derive(Debug)]
pub(crate) enum DocOp {
    /// The app asked to have it loaded ([`Core::open`]); nothing more to do.
    Open,
    /// An app request waiting for the document (`app.rs`).
    App(crate::app::AppRequestId),
    /// A received DocSync, DocWhole or DocChanges to apply; `held` is its number for `Held`
    /// (version 3, HS-SYNC-14), which waits for it.
    Apply {
        conn: ConnId,
        msg: Message,
        held: Option<u64>,
    },
    /// Send the whole document to this session.
    SendWhole { conn: ConnId },
    /// Start an Automerge sync with this session; `theirs` is the peer's digest of the document
    /// when reconciliation reported it.
    StartSync { conn: ConnId, theirs: Option<DocDigest> },
    /// Send the whole document to this session as sync messages: it cannot go whole
    /// (HS-SYNC-9).
    SyncWhole { conn: ConnId },
    /// Send this session the changes after `after`, heads it holds (HS-RESUME-3).
    SendChanges { conn: ConnId, after: Vec<ChangeHash> },
    /// Index the blobs the document really references (a DocWhole's `blobs` list is only a
    /// claim, HS-BLOB-1).
    IndexBlobs,
    /// Merge received change bytes whose unparsed append the store refused, and save the
    /// document whole (append.rs).
    Reapply { bytes: bytes::Bytes },
}

impl DocOp {
    /// The session the operation sends to, if any.
    pub(crate) fn conn(&self) -> Option<ConnId> {
        match self {
            DocOp::Open | DocOp::App(_) | DocOp::IndexBlobs | DocOp::Reapply { .. } => None,
            DocOp::Apply { conn, .. }
            | DocOp::SendWhole { conn }
            | DocOp::SyncWhole { conn }
            | DocOp::StartSync { conn, .. }
            | DocOp::SendChanges { conn, .. } => Some(*conn),
        }
    }
}

/// What an outstanding I/O task was for.
#[derive(Debug)]
pub(crate) enum PendingIo {
    Load(DocId),
    Save(DocId),
    /// A DocWhole stored without parsing: its write is kept until the store takes it
    /// (resave.rs), since the bytes are nowhere else here. It shares the task's bytes
    /// ([`crate::DocWrite`]), so keeping it costs no copy of the document.
    SaveWhole(DocId, Box<crate::IoAction>),
    /// Received changes appended without a parse, kept until the store takes them (append.rs);
    /// shared with the task's write.
    Append(DocId, bytes::Bytes),
    Delete(DocId),
    Fetch {
        hash: BlobHash,
        peer: DeviceId,
    },
    Cursors,
    Release(BlobHash),
    Ages,
}

impl PendingIo {
    /// The document a write task writes (a save, a stored DocWhole, an append, a tombstone).
    pub(crate) fn written_doc(&self) -> Option<&DocId> {
        match self {
            PendingIo::Save(doc)
            | PendingIo::SaveWhole(doc, _)
            | PendingIo::Append(doc, _)
            | PendingIo::Delete(doc) => Some(doc),
            _ => None,
        }
    }
}

/// Parsed documents, bounded by a capacity, plus loads in progress.
#[derive(Debug)]
pub(crate) struct DocCache {
    pub(crate) docs: BTreeMap<DocId, LoadedDoc>,
    pub(crate) loading: BTreeMap<DocId, Vec<DocOp>>,
    /// Loads wanted but not started because `max_inflight_loads` were in flight.
    pub(crate) queued: std::collections::VecDeque<DocId>,
    pub(crate) capacity: usize,
}

impl DocCache {
    pub(crate) fn new(capacity: usize) -> Self {
        DocCache {
            docs: BTreeMap::new(),
            loading: BTreeMap::new(),
            queued: Default::default(),
            capacity,
        }
    }

    pub(crate) fn insert_pinned(&mut self, doc: DocId, am: Automerge, now: Instant, stored: bool) {
        let mut loaded = new_loaded(am, now, stored);
        loaded.pinned = true;
        self.docs.insert(doc, loaded);
    }

    /// Caches a document that is not stored yet (created from a peer's first sync message).
    pub(crate) fn insert_new(&mut self, doc: DocId, am: Automerge, now: Instant) {
        self.docs.insert(doc, new_loaded(am, now, false));
    }

    pub(crate) fn get(&self, doc: &DocId) -> Option<&LoadedDoc> {
        self.docs.get(doc)
    }

    pub(crate) fn get_mut(&mut self, doc: &DocId) -> Option<&mut LoadedDoc> {
        self.docs.get_mut(doc)
    }

    pub(crate) fn remove(&mut self, doc: &DocId) -> Option<LoadedDoc> {
        self.docs.remove(doc)
    }

    pub(crate) fn len(&self) -> usize {
        self.docs.len()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&DocId, &mut LoadedDoc)> {
        self.docs.iter_mut()
    }

    /// Whether a load is pending whose document's references are not known yet: a received
    /// message waiting to be applied, or a whole document waiting to be indexed (HS-BLOB-4).
    pub(crate) fn refs_pending(&self) -> bool {
        self.loading.values().flatten().any(|op| {
            matches!(
                op,
                DocOp::Apply { .. } | DocOp::IndexBlobs | DocOp::Reapply { .. }
            )
        })
    }
}

pub(crate) fn new_loaded(am: Automerge, now: Instant, stored: bool) -> LoadedDoc {
    let saved_heads = if stored { sorted_heads(&am) } else { Vec::new() };
    LoadedDoc {
        am,
        sync: BTreeMap::new(),
        sync_dirty: BTreeSet::new(),
        saved_heads,
        stored,
        snapshot_bytes: 0,
        appended_bytes: 0,
        refs: Vec::new(),
        refs_heads: None,
        last_used: now,
        pinned: false,
    }
}

/// A document's heads, sorted bytewise.
pub(crate) fn sorted_heads(am: &Automerge) -> Vec<ChangeHash> {
    let mut heads: Vec<ChangeHash> = am.get_heads().iter().map(|h| ChangeHash(h.0)).collect();
    heads.sort_unstable();
    heads
}

/// Every blob referenced by a string scalar `hsblob:<hex>` anywhere in the document (HS-BLOB-1).
pub(crate) fn blob_refs(am: &Automerge) -> Vec<BlobHash> {
    let mut refs = BTreeSet::new();
    for item in am.iter() {
        let value = match &item.item {
            automerge::iter::DocItem::Map(m) => &m.value,
            automerge::iter::DocItem::List(l) => &l.value,
            automerge::iter::DocItem::Text(_) => continue,
        };
        if let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(text)) = value
            && let Some(hash) = BlobHash::from_reference(text)
        {
            refs.insert(hash);
        }
    }
    refs.into_iter().collect()
}

impl Core {
    /// Evicts clean, unpinned, idle documents beyond the cache capacity (least recently used first).
    pub(crate) fn evict(&mut self, now: Instant) {
        let _ = now;
        if self.cache.len() <= self.cache.capacity {
            return;
        }
        let busy: BTreeSet<DocId> = self
            .sessions
            .values()
            .flat_map(|s| s.syncing.iter().cloned())
            .collect();
        let mut candidates: Vec<(Instant, DocId)> = self
            .cache
            .docs
            .iter()
            .filter(|(id, d)| !d.pinned && d.stored && d.saved_heads == d.heads() && !busy.contains(*id))
            .map(|(id, d)| (d.last_used, id.clone()))
            .collect();
        candidates.sort();
        let excess = self.cache.len() - self.cache.capacity;
        for (_, doc) in candidates.into_iter().take(excess) {
            if self.cache.get(&doc).is_some_and(|d| !d.sync_dirty.is_empty()) {
                self.save(now, &doc);
            }
            self.cache.remove(&doc);
        }
    }
}
