//! One simulated device or server: a [`Host`] (core and disk) plus what the simulation keeps
//! about it — its signing key, the app's edits in flight, its disk queue, what it received.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use humansync_protocol::{DeviceId, DocId};

use super::host::Host;
use crate::{AppRequestId, Instant};

/// A simulated node.
#[derive(Debug)]
pub struct SimNode {
    /// Its core, disk and identity (the piece shared with the conformance runner).
    pub host: Host,
    /// Its identity key.
    pub key: SigningKey,
    /// Unregistered attacker: dials everyone, must receive nothing.
    pub rogue: bool,
    /// Application bytes ever delivered to this node (HS-GATE-3 checks).
    pub bytes_received: u64,
    /// Edits whose save was acknowledged: (doc, key).
    pub acked: BTreeSet<(DocId, String)>,
    /// When its disk is free again: disk tasks complete in order, one after another.
    pub(crate) io_free_at: Instant,
    /// Edits asked of the core and not answered yet, by request id.
    pub(crate) edits: BTreeMap<AppRequestId, (DocId, String)>,
    /// The last app request id used.
    pub(crate) next_request: u64,
}

impl SimNode {
    pub(crate) fn new(name: &str, key: SigningKey, rogue: bool, max_doc_bytes: usize) -> Self {
        let mut host = Host::new(name, DeviceId::from(&key));
        host.max_doc_bytes = max_doc_bytes;
        SimNode {
            host,
            key,
            rogue,
            bytes_received: 0,
            acked: BTreeSet::new(),
            io_free_at: Instant(0),
            edits: BTreeMap::new(),
            next_request: 0,
        }
    }

    /// (Re)starts the core from the durable store, as a runtime would after a crash.
    pub(crate) fn boot(&mut self, now: Instant) {
        if let Err(e) = self.host.boot(now) {
            // The simulated store only ever holds bytes the core produced.
            panic!("{}: core failed to start from its own store: {e}", self.host.name)
        }
        self.edits.clear();
        self.io_free_at = now;
    }

    /// Its name (`server`, `d1`, `rogue`).
    pub fn name(&self) -> &str {
        &self.host.name
    }

    /// Its device id.
    pub fn id(&self) -> DeviceId {
        self.host.id
    }

    /// True while running.
    pub fn is_up(&self) -> bool {
        self.host.is_up()
    }
}
