//! The end-of-run check that no corrupt file is left unquarantined: with every process stopped,
//! open each store with the library, load every live document and parse it with Automerge.

use std::path::Path;

use humansync::store::{DocStore, StoreError};

/// What one store held.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreCheck {
    /// Live documents loaded and parsed.
    pub docs: u64,
    /// Documents already in quarantine.
    pub quarantined: u64,
}

/// Opens a node's store: with the device data key when its storage directory has one (devices
/// encrypt at rest by default, HS-REST-2), else plain (the server's default).
fn open(dir: &Path) -> Result<DocStore, String> {
    let storage = dir.parent().unwrap_or(dir);
    if !storage.join(humansync::keys::DATA_KEY_FILE).exists() {
        return DocStore::open(dir).map_err(|e| e.to_string());
    }
    let keys = humansync::keys::resolve(&humansync::KeySource::DeviceFile, storage)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let key = keys.first().ok_or("no device data key")?;
    DocStore::open_keyed(dir, Default::default(), Some(key)).map_err(|e| e.to_string())
}

/// Checks the store at `dir` (a node's `store/`); `Err` lists the documents that failed.
pub fn check(dir: &Path) -> Result<StoreCheck, String> {
    let store = open(dir).map_err(|e| format!("{}: cannot open: {e}", dir.display()))?;
    let mut out = StoreCheck {
        quarantined: store.quarantined().len() as u64,
        ..StoreCheck::default()
    };
    let mut bad = Vec::new();
    for (doc, meta) in store.startup().index {
        if meta.tombstone {
            continue;
        }
        match store.load(&doc) {
            Ok(Some((bytes, _))) => match humansync::automerge::Automerge::load(&bytes) {
                Ok(_) => out.docs += 1,
                Err(e) => bad.push(format!("{doc}: stored bytes are not a document: {e}")),
            },
            Ok(None) => {}
            Err(e @ (StoreError::Corrupt { .. } | StoreError::Quarantined(_))) => {
                bad.push(format!("{doc}: corrupt and not quarantined before: {e}"));
            }
            Err(e) => bad.push(format!("{doc}: {e}")),
        }
    }
    let _ = store.close();
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(format!("{}: {}", dir.display(), bad.join("; ")))
    }
}
