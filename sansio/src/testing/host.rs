//! The shared host: one reference [`Core`] with its disk ([`SimStore`]) and the identity it
//! starts from. Every driver of a reference core uses it — the simulation's nodes
//! ([`super::SimNode`]), the conformance runner's sync peer and its transcript driver — so that
//! "start a core from what is on disk" and "answer a disk task" are written once.
//!
//! A host answers disk tasks itself ([`Host::disk`]); fetching a blob needs a peer, so that one
//! is left to the caller's network. When the answer is handed back is the caller's choice: the
//! simulation delays it by a seeded disk latency, the conformance runner answers at once.

use humansync_protocol::DeviceId;

use super::store::SimStore;
use crate::{Core, CoreConfig, CoreError, Instant, IoAction, IoResult, Startup};

/// One core, its disk and its identity.
#[derive(Debug)]
pub struct Host {
    /// Name for transcripts and failure messages (`server`, `d1`, `rogue`, `runner`).
    pub name: String,
    /// Its device id.
    pub id: DeviceId,
    /// The running core; `None` while down (crashed, or not started yet).
    pub core: Option<Core>,
    /// Its durable state: only writes whose disk task completed.
    pub store: SimStore,
    /// The registry anchor it trusts (set at pairing).
    pub anchor: Option<DeviceId>,
    /// Protocol versions it offers and accepts (applied at its next start).
    pub versions: Vec<u16>,
    /// Its [`CoreConfig::max_doc_bytes`] (applied at its next start).
    pub max_doc_bytes: usize,
    /// Start count minus one: bumped by [`Host::crash`]; events from an earlier life are stale.
    pub epoch: u64,
}

impl Host {
    /// A host that is down, with an empty disk, offering every supported version.
    pub fn new(name: &str, id: DeviceId) -> Host {
        Host {
            name: name.to_owned(),
            id,
            core: None,
            store: SimStore::default(),
            anchor: None,
            versions: humansync_protocol::SUPPORTED_VERSIONS.to_vec(),
            max_doc_bytes: humansync_protocol::limits::MAX_DOC_BYTES,
            epoch: 0,
        }
    }

    /// (Re)starts the core from the disk, as a runtime does after a crash: the actor id and the
    /// change log's epoch (new per start, HS-RESUME-1) are derived from the id and the epoch, so
    /// the same history gives the same core.
    pub fn boot(&mut self, now: Instant) -> Result<&mut Core, CoreError> {
        let mut actor = self.id.as_bytes()[..12].to_vec();
        actor.extend_from_slice(&(self.epoch as u32).to_be_bytes());
        let mut config = CoreConfig::new(self.id, actor, self.anchor);
        config.versions = self.versions.clone();
        config.max_doc_bytes = self.max_doc_bytes;
        let mut startup = self.store.startup();
        startup.log_epoch = u64::from_be_bytes(self.id.as_bytes()[..8].try_into().unwrap_or([1; 8]))
            ^ (self.epoch + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            | 1;
        self.start(now, config, startup)
    }

    /// Starts the core from an explicit configuration and start-up state (a recorded setup).
    pub fn start(
        &mut self,
        now: Instant,
        config: CoreConfig,
        startup: Startup,
    ) -> Result<&mut Core, CoreError> {
        Ok(self.core.insert(Core::new(now, config, startup)?))
    }

    /// Stops the core at once, losing what it held in memory; the disk stays.
    pub fn crash(&mut self) {
        self.core = None;
        self.epoch += 1;
    }

    /// True while the core runs.
    pub fn is_up(&self) -> bool {
        self.core.is_some()
    }

    /// Performs a disk task on the store and returns its result, or `None` for
    /// [`IoAction::FetchBlob`]: a blob comes from a peer, which is the caller's network.
    pub fn disk(&mut self, action: &IoAction) -> Option<IoResult> {
        let store = &mut self.store;
        match action {
            IoAction::LoadDoc { doc } => return Some(store.load(doc)),
            IoAction::SaveDoc {
                doc,
                write,
                meta,
                sync_states,
            } => store.save(doc, write.as_ref(), meta, sync_states),
            IoAction::DeleteDoc { doc } => store.delete(doc),
            IoAction::SaveCursors { cursors } => store.cursors = cursors.clone(),
            IoAction::SaveBlobAges { ages } => store.blob_ages = ages.clone(),
            IoAction::ReleaseBlob { hash } => {
                store.blobs.remove(hash);
            }
            IoAction::FetchBlob { .. } => return None,
        }
        Some(IoResult::Done)
    }
}
