//! A simulated disk: only writes whose I/O task completed survive a crash.

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::{BlobHash, DeviceId, DocId};

use crate::{DocMeta, DocWrite, IoResult};

/// One stored document.
#[derive(Debug, Clone, Default)]
pub struct StoredDoc {
    /// Saved bytes (a save plus appended chunks).
    pub bytes: Vec<u8>,
    /// The index row.
    pub meta: DocMeta,
    /// Persisted sync states by peer.
    pub sync_states: BTreeMap<DeviceId, Vec<u8>>,
}

/// Everything a node has durably written.
#[derive(Debug, Clone, Default)]
pub struct SimStore {
    /// Documents by id (including `_devices`).
    pub docs: BTreeMap<DocId, StoredDoc>,
    /// Blobs held complete.
    pub blobs: BTreeSet<BlobHash>,
    /// Completed write operations (for cost assertions).
    pub writes: u64,
    /// The persisted cursors into peers' change logs (HS-RESUME-5).
    pub cursors: Vec<(DeviceId, humansync_protocol::Cursor)>,
    /// The persisted ages of unreferenced blobs (HS-BLOB-4).
    pub blob_ages: Vec<(BlobHash, u64)>,
}

impl SimStore {
    /// Applies a durable document write.
    pub fn save(
        &mut self,
        doc: &DocId,
        write: Option<&DocWrite>,
        meta: &DocMeta,
        states: &[(DeviceId, Vec<u8>)],
    ) {
        let entry = self.docs.entry(doc.clone()).or_default();
        match write {
            Some(DocWrite::Append(bytes)) => entry.bytes.extend_from_slice(bytes),
            Some(DocWrite::Replace(bytes)) => entry.bytes = bytes.to_vec(),
            None => {}
        }
        entry.meta = meta.clone();
        for (peer, state) in states {
            entry.sync_states.insert(*peer, state.clone());
        }
        self.writes += 1;
    }

    /// Replaces a document with a tombstone.
    pub fn delete(&mut self, doc: &DocId) {
        self.docs.insert(
            doc.clone(),
            StoredDoc {
                bytes: Vec::new(),
                meta: DocMeta {
                    tombstone: true,
                    ..Default::default()
                },
                sync_states: BTreeMap::new(),
            },
        );
        self.writes += 1;
    }

    /// Answers a LoadDoc.
    pub fn load(&self, doc: &DocId) -> IoResult {
        match self.docs.get(doc) {
            Some(stored) if !stored.meta.tombstone => IoResult::Loaded {
                bytes: stored.bytes.clone(),
                sync_states: stored.sync_states.iter().map(|(p, s)| (*p, s.clone())).collect(),
            },
            _ => IoResult::NotFound,
        }
    }

    /// The start-up state a runtime would read back from this disk.
    pub fn startup(&self) -> crate::Startup {
        crate::Startup {
            index: self
                .docs
                .iter()
                .filter(|(id, _)| !id.is_devices())
                .map(|(id, d)| (id.clone(), d.meta.clone()))
                .collect(),
            devices_doc: self
                .docs
                .get(&DocId::devices())
                .map(|d| d.bytes.clone())
                .filter(|b| !b.is_empty()),
            local_blobs: self.blobs.iter().copied().collect(),
            log_epoch: 0,
            cursors: self.cursors.clone(),
            pinned_blobs: Vec::new(),
            blob_ages: self.blob_ages.clone(),
        }
    }
}
