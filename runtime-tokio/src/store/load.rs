//! Reading: loads and the start-up snapshot for the core.

use std::io;

use humansync_protocol::DocId;
use humansync_sansio::{DocMeta, PeerSyncState, Startup};

use super::DocStore;
use super::docfile;
use super::error::StoreError;
use super::index::EntryState;
use super::layout;

/// A loaded document: its saved bytes (a save followed by appended chunks) and sync states.
pub type Loaded = (Vec<u8>, Vec<PeerSyncState>);

impl DocStore {
    /// What the core needs at start-up: every index row except `_devices` (tombstones included,
    /// quarantined documents left out so the core fetches them again), and the `_devices` bytes.
    /// Reads one document file (`_devices`) and no other. `local_blobs`, `pinned_blobs` and
    /// `blob_ages` are left empty: blobs belong to the blob store, and ages need the wall clock
    /// ([`DocStore::blob_unreferenced_since`]). `log_epoch` is left 0 (resuming off) for the
    /// caller to draw.
    pub fn startup(&self) -> Startup {
        let index = {
            let q = self.lock_quarantine();
            self.index
                .iter()
                .filter(|(doc, _)| !doc.is_devices() && !q.pending.contains(*doc))
                .filter_map(|(doc, state)| match state {
                    EntryState::Live(meta) => Some((doc.clone(), meta.clone())),
                    EntryState::Tombstone => Some((
                        doc.clone(),
                        DocMeta {
                            tombstone: true,
                            ..DocMeta::default()
                        },
                    )),
                    EntryState::Quarantined => None,
                })
                .collect()
        };
        let devices_doc = match self.load(&DocId::devices()) {
            Ok(loaded) => loaded.map(|(bytes, _)| bytes),
            Err(e) => {
                tracing::error!(error = %e, "registry document unreadable; starting without it");
                None
            }
        };
        Startup {
            index,
            devices_doc,
            local_blobs: Vec::new(),
            // The runtime draws a fresh epoch per start (HS-RESUME-1).
            log_epoch: 0,
            cursors: self.cursors(),
            pinned_blobs: Vec::new(),
            blob_ages: Vec::new(),
        }
    }

    /// The index row of `doc`, if stored and live.
    pub fn meta(&self, doc: &DocId) -> Option<&DocMeta> {
        match self.index.get(doc) {
            Some(EntryState::Live(meta)) => Some(meta),
            _ => None,
        }
    }

    /// Reads `doc`: `Ok(None)` when not stored or deleted. A file that fails its checksums, is
    /// missing, belongs to another id, or ends at an older state than its index row is moved to
    /// quarantine and reported as [`StoreError::Corrupt`]; later loads give
    /// [`StoreError::Quarantined`] until the document is rewritten.
    ///
    /// While acknowledged writes of `doc` wait to reach its file (a full disk, behind.rs), the
    /// load serves the file with those writes applied in memory; its file is not judged then.
    /// Any other error (`Io`, …) is a local fault, never a verdict on the document.
    pub fn load(&self, doc: &DocId) -> Result<Option<Loaded>, StoreError> {
        if let Some(result) = self.load_behind(doc) {
            return result;
        }
        if self.is_pending_quarantine(doc) {
            return Err(StoreError::Quarantined(doc.clone()));
        }
        let meta = match self.index.get(doc) {
            None | Some(EntryState::Tombstone) => return Ok(None),
            Some(EntryState::Quarantined) => return Err(StoreError::Quarantined(doc.clone())),
            Some(EntryState::Live(meta)) => meta,
        };
        let path = self.layout.doc_path(doc);
        let bytes = match layout::read_all(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(self.quarantine_doc(doc, "its file is missing".to_owned()));
            }
            Err(e) => return Err(StoreError::io("read", &path, e)),
        };
        self.stats.read_doc_file();
        let label = self.layout.file_key(doc);
        let parsed = match docfile::parse(&bytes, self.sealer(), label.as_bytes(), Some(doc)) {
            Ok((_, parsed)) => parsed,
            Err(reason) => return Err(self.quarantine_doc(doc, reason)),
        };
        match &parsed.state {
            Some(EntryState::Live(found)) if found == meta => {
                let sync_states = parsed.sync_states();
                Ok(Some((parsed.chunks, sync_states)))
            }
            _ => Err(self.quarantine_doc(
                doc,
                "file ends at an older state than the index (acknowledged data missing)".to_owned(),
            )),
        }
    }
}
