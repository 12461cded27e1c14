//! One simulated device or server: a [`Core`], its disk, and the app-level bookkeeping the checks need.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use humansync_protocol::{DeviceId, DocId};

use super::store::SimStore;
use crate::{Core, CoreConfig, Instant, IoTaskId};

/// A change the app asked for before its document finished loading.
#[derive(Debug, Clone)]
pub(crate) struct PendingEdit {
    pub(crate) doc: DocId,
    pub(crate) key: String,
}

/// A simulated node.
#[derive(Debug)]
pub struct SimNode {
    /// Name for transcripts (`server`, `d1`, `rogue`).
    pub name: String,
    /// Its identity key.
    pub key: SigningKey,
    /// Its device id.
    pub id: DeviceId,
    /// The running core; `None` while crashed.
    pub core: Option<Core>,
    /// Its durable state.
    pub store: SimStore,
    /// The registry anchor it trusts (set at pairing).
    pub anchor: Option<DeviceId>,
    /// Unregistered attacker: dials everyone, must receive nothing.
    pub rogue: bool,
    /// Crash/restart count; events from an earlier life are dropped.
    pub epoch: u64,
    /// Application bytes ever delivered to this node (HS-GATE-3 checks).
    pub bytes_received: u64,
    /// Protocol versions it offers and accepts (applied at its next start).
    pub versions: Vec<u16>,
    /// Edits whose save was acknowledged: (doc, key).
    pub acked: BTreeSet<(DocId, String)>,
    pub(crate) io_free_at: Instant,
    pub(crate) pending_edits: Vec<PendingEdit>,
    pub(crate) task_edits: BTreeMap<IoTaskId, (DocId, String)>,
}

impl SimNode {
    pub(crate) fn new(name: &str, key: SigningKey, rogue: bool) -> Self {
        let id = DeviceId::from(&key);
        SimNode {
            name: name.to_owned(),
            key,
            id,
            core: None,
            store: SimStore::default(),
            anchor: None,
            rogue,
            epoch: 0,
            bytes_received: 0,
            versions: humansync_protocol::SUPPORTED_VERSIONS.to_vec(),
            acked: BTreeSet::new(),
            io_free_at: Instant(0),
            pending_edits: Vec::new(),
            task_edits: BTreeMap::new(),
        }
    }

    /// (Re)starts the core from the durable store, as a runtime would after a crash;
    /// `max_doc_bytes` is its [`CoreConfig::max_doc_bytes`].
    pub(crate) fn boot(&mut self, now: Instant, max_doc_bytes: usize) {
        let mut actor = self.id.as_bytes()[..12].to_vec();
        actor.extend_from_slice(&(self.epoch as u32).to_be_bytes());
        let mut config = CoreConfig::new(self.id, actor, self.anchor);
        config.versions = self.versions.clone();
        config.max_doc_bytes = max_doc_bytes;
        let mut startup = self.store.startup();
        // A new change log per start (HS-RESUME-1), as a runtime draws a random one.
        startup.log_epoch = u64::from_be_bytes(self.id.as_bytes()[..8].try_into().unwrap_or([1; 8]))
            ^ (self.epoch + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            | 1;
        let core = Core::new(now, config, startup).unwrap_or_else(|e| {
            // The simulated store only ever holds bytes the core produced.
            panic!("{}: core failed to start from its own store: {e}", self.name)
        });
        self.core = Some(core);
        self.pending_edits.clear();
        self.task_edits.clear();
        self.io_free_at = now;
    }

    /// True while running.
    pub fn is_up(&self) -> bool {
        self.core.is_some()
    }
}
