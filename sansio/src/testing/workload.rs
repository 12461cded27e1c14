//! The workload: what users and operators do to the simulated nodes — pair and revoke devices
//! at the server, edit and delete documents, add blobs, load large fixtures — and how the
//! simulated app reacts to its core's events.

use humansync_protocol::{BlobHash, DocId, RegistryRecord};

use super::SERVER;
use crate::{AppRequest, AppRequestId, Core, CoreError, Instant, OpenState};

impl super::Sim {
    /// Pairs a node: the server signs its Device record; the node trusts the server and receives
    /// every record, as POST /pair returns them (HS-PAIR-6).
    pub fn pair(&mut self, idx: usize) {
        let record = RegistryRecord::Device {
            device: self.nodes[idx].id(),
            name: self.nodes[idx].name().to_owned(),
            paired_at_ms: self.now.0,
        };
        let signed = record
            .sign(&self.nodes[SERVER].key)
            .unwrap_or_else(|e| panic!("sign: {e}"));
        let now = self.now;
        self.server_core()
            .add_registry_record(now, &signed)
            .unwrap_or_else(|e| panic!("server record: {e}"));
        self.pump(SERVER);
        // POST /pair answers only once the record is durable on the server.
        self.flush_io(SERVER);
        let anchor = self.nodes[SERVER].id();
        let records: Vec<_> = self.server_core().registry().records().cloned().collect();
        let host = &mut self.nodes[idx].host;
        host.anchor = Some(anchor);
        if let Some(core) = host.core.as_mut() {
            core.set_anchor(now, anchor)
                .unwrap_or_else(|e| panic!("anchor: {e}"));
            for r in &records {
                core.add_registry_record(now, r)
                    .unwrap_or_else(|e| panic!("record: {e}"));
            }
        }
        self.pump(idx);
    }

    /// Revokes a device at the server (DELETE /devices/{id}).
    pub fn revoke(&mut self, idx: usize) {
        let record = RegistryRecord::Revoked {
            device: self.nodes[idx].id(),
            revoked_at_ms: self.now.0,
        };
        let signed = record
            .sign(&self.nodes[SERVER].key)
            .unwrap_or_else(|e| panic!("sign: {e}"));
        let now = self.now;
        if let Some(core) = self.nodes[SERVER].host.core.as_mut() {
            core.add_registry_record(now, &signed)
                .unwrap_or_else(|e| panic!("server record: {e}"));
        }
        self.pump(SERVER);
        // DELETE /devices answers only once the revocation is durable on the server.
        self.flush_io(SERVER);
    }

    /// Puts `key = node name` into `doc` on node `idx` (creating the doc), as an app would: one
    /// app request, acknowledged by the core once durable ([`Sim::app_done`](super::Sim)).
    pub fn edit(&mut self, idx: usize, doc: &DocId, key: &str) {
        let now = self.now;
        let node = &mut self.nodes[idx];
        let Some(core) = node.host.core.as_mut() else {
            return;
        };
        node.next_request += 1;
        let id = AppRequestId(node.next_request);
        node.edits.insert(id, (doc.clone(), key.to_owned()));
        let (name, key) = (node.host.name.clone(), key.to_owned());
        let f = Box::new(move |am: &mut automerge::Automerge| {
            let _ = am.transact::<_, _, automerge::AutomergeError>(|tx| {
                use automerge::transaction::Transactable;
                tx.put(automerge::ROOT, key.as_str(), name.as_str())?;
                Ok(())
            });
        });
        core.handle_app_request(now, id, AppRequest::Change { doc: doc.clone(), f });
        self.pump(idx);
    }

    /// Stores a new blob on node `idx` (as `store_blob` would) and references it from `doc` under
    /// `key` (HS-BLOB-1). Returns its hash.
    pub fn add_blob(&mut self, idx: usize, doc: &DocId, key: &str) -> BlobHash {
        let hash = BlobHash(self.rng.bytes32());
        let now = self.now;
        self.nodes[idx].host.store.blobs.insert(hash);
        if let Some(core) = self.nodes[idx].host.core.as_mut() {
            core.handle_blob_added(now, hash);
        }
        self.pump(idx);
        let reference = hash.to_reference();
        let Some(core) = self.nodes[idx].host.core.as_mut() else {
            return hash;
        };
        if core.open(now, doc, true) == Ok(OpenState::Ready) {
            let _ = core.change(now, doc, |am| {
                am.transact::<_, _, automerge::AutomergeError>(|tx| {
                    use automerge::transaction::Transactable;
                    tx.put(automerge::ROOT, key, reference.as_str())?;
                    Ok(())
                })
                .is_ok()
            });
        }
        self.pump(idx);
        hash
    }

    /// Runs `f` on node `idx`'s core (if it is up) with the current time, then drains its outputs.
    pub fn with_core<R>(&mut self, idx: usize, f: impl FnOnce(&mut Core, Instant) -> R) -> Option<R> {
        let now = self.now;
        let out = self.nodes[idx].host.core.as_mut().map(|core| f(core, now));
        self.pump(idx);
        out
    }

    /// Deletes `doc` on node `idx`.
    pub fn delete(&mut self, idx: usize, doc: &DocId) {
        let now = self.now;
        if let Some(core) = self.nodes[idx].host.core.as_mut() {
            let _ = core.delete(now, doc);
        }
        self.pump(idx);
    }

    /// Writes documents straight into a node's disk and reboots it from there (for large fixtures).
    pub fn preload(&mut self, idx: usize, docs: &[(DocId, Vec<u8>)]) {
        for (doc, bytes) in docs {
            let Ok(am) = crate::untrusted::load(bytes) else {
                continue;
            };
            let mut heads: Vec<humansync_protocol::ChangeHash> = am
                .get_heads()
                .iter()
                .map(|h| humansync_protocol::ChangeHash(h.0))
                .collect();
            heads.sort_unstable();
            let meta = crate::DocMeta {
                heads: crate::Heads::from_slice(&heads),
                blobs: Box::default(),
                tombstone: false,
            };
            let write = crate::DocWrite::Replace(bytes.clone().into());
            self.nodes[idx].host.store.save(doc, Some(&write), &meta, &[]);
        }
        self.crash(idx);
        self.restart(idx);
    }

    /// The app's side of a completed request: an edit the core acknowledged is durable.
    pub(crate) fn app_done(&mut self, idx: usize, id: AppRequestId, result: Result<(), CoreError>) {
        let node = &mut self.nodes[idx];
        if let Some(edit) = node.edits.remove(&id)
            && result.is_ok()
        {
            node.acked.insert(edit);
        }
    }
}
