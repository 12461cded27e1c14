//! Helpers shared by the store tests: real Automerge documents driven the way the core drives
//! the store (first save `Replace`, then `Append` of `save_after`, periodic `Replace`).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // Shared test helpers.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc, ScalarValue, Value};
use humansync::store::StoreOp;
use humansync_protocol::{ChangeHash, DeviceId, DocId};
use humansync_sansio::{DocMeta, DocWrite};

/// A valid device id derived from `n`.
pub fn peer(n: u8) -> DeviceId {
    let key = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
    DeviceId::from_bytes(key.verifying_key().to_bytes()).unwrap()
}

/// The id `test/doc-<n>`.
pub fn doc_id(n: usize) -> DocId {
    DocId::new(format!("test/doc-{n}")).unwrap()
}

/// Sorted heads in the protocol's type.
pub fn heads(am: &mut AutoCommit) -> Vec<ChangeHash> {
    let mut heads: Vec<ChangeHash> = am.get_heads().into_iter().map(|h| ChangeHash(h.0)).collect();
    heads.sort();
    heads
}

/// A document as the core holds it: the Automerge doc and what was last saved.
pub struct Doc {
    pub id: DocId,
    pub am: AutoCommit,
    saved: Vec<automerge::ChangeHash>,
    stored: bool,
}

impl Doc {
    /// A new document with a fixed actor.
    pub fn new(id: DocId, actor: u8) -> Doc {
        let am = AutoCommit::new().with_actor(automerge::ActorId::from(vec![actor; 16]));
        Doc {
            id,
            am,
            saved: Vec::new(),
            stored: false,
        }
    }

    /// A document loaded from stored bytes.
    pub fn loaded(id: DocId, bytes: &[u8], actor: u8) -> Doc {
        let am = AutoCommit::load(bytes)
            .unwrap()
            .with_actor(automerge::ActorId::from(vec![actor; 16]));
        let mut doc = Doc {
            id,
            am,
            saved: Vec::new(),
            stored: true,
        };
        doc.saved = doc.am.get_heads();
        doc
    }

    /// Sets `key` to `value` at the root.
    pub fn set(&mut self, key: &str, value: i64) {
        self.am.put(ROOT, key, value).unwrap();
    }

    /// The save op the core would emit now: `Replace` when forced or first, else `Append`.
    pub fn save(&mut self, replace: bool, sync_states: Vec<(DeviceId, Vec<u8>)>) -> StoreOp {
        let write = if replace || !self.stored {
            DocWrite::Replace(self.am.save().into())
        } else {
            DocWrite::Append(self.am.save_after(&self.saved).into())
        };
        self.saved = self.am.get_heads();
        self.stored = true;
        StoreOp::Save {
            doc: self.id.clone(),
            write: Some(write),
            meta: self.meta(),
            sync_states,
        }
    }

    /// The index row for the current state.
    pub fn meta(&mut self) -> DocMeta {
        DocMeta {
            heads: heads(&mut self.am).into_iter().collect(),
            blobs: Box::default(),
            tombstone: false,
        }
    }
}

/// The integer at `key` in the root of a loaded document.
pub fn get_int(am: &AutoCommit, key: &str) -> Option<i64> {
    match am.get(ROOT, key).unwrap() {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Int(i) => Some(*i),
            _ => None,
        },
        _ => None,
    }
}

/// The data key the store tests run with: every store test runs encrypted (HS-REST-3), as
/// devices do by default.
pub fn test_key() -> humansync::DataKey {
    humansync::DataKey::from_bytes([0x42; 32])
}

/// Opens an encrypted store with [`test_key`] and default options.
pub fn open(dir: &std::path::Path) -> Result<humansync::store::DocStore, humansync::store::StoreError> {
    open_with(dir, humansync::store::StoreOptions::default())
}

/// Opens an encrypted store with [`test_key`] (plain with `HUMANSYNC_TEST_PLAINTEXT=1`, to
/// compare the wall times `store_bulk` prints).
pub fn open_with(
    dir: &std::path::Path,
    options: humansync::store::StoreOptions,
) -> Result<humansync::store::DocStore, humansync::store::StoreError> {
    let plain = std::env::var_os("HUMANSYNC_TEST_PLAINTEXT").is_some_and(|v| v == "1");
    let key = (!plain).then(test_key);
    humansync::store::DocStore::open_keyed(dir, options, key.as_ref())
}
