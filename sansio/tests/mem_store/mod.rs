//! An in-memory document store for core tests: answers the core's disk tasks the way the
//! runtime's store does (a whole write replaces, an append extends, a delete removes, a load returns the bytes).

use std::collections::BTreeMap;

use humansync_protocol::DocId;
use humansync_sansio::{DocWrite, IoAction, IoResult};

/// Performs `action` on `store` and returns the core's answer; non-document tasks are done.
pub(crate) fn answer(store: &mut BTreeMap<DocId, Vec<u8>>, action: &IoAction) -> IoResult {
    match action {
        IoAction::SaveDoc { doc, write, .. } => {
            match write {
                Some(DocWrite::Replace(b)) => {
                    store.insert(doc.clone(), b.to_vec());
                }
                Some(DocWrite::Append(b)) => store.entry(doc.clone()).or_default().extend(b),
                None => {}
            }
            IoResult::Done
        }
        IoAction::DeleteDoc { doc } => {
            store.remove(doc);
            IoResult::Done
        }
        IoAction::LoadDoc { doc } => match store.get(doc) {
            Some(bytes) => IoResult::Loaded {
                bytes: bytes.clone(),
                sync_states: Vec::new(),
            },
            None => IoResult::NotFound,
        },
        _ => IoResult::Done,
    }
}

/// The device key of test seed `seed` (32 bytes of it).
pub(crate) fn key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

/// Registers the devices of `seeds` in `core`'s registry, each by a record `server` signs.
pub(crate) fn register_devices(
    core: &mut humansync_sansio::Core,
    server: &ed25519_dalek::SigningKey,
    seeds: &[u8],
) {
    for &seed in seeds {
        let record = humansync_protocol::RegistryRecord::Device {
            device: humansync_protocol::DeviceId::from(&key(seed)),
            name: "d".into(),
            paired_at_ms: 1,
        }
        .sign(server)
        .expect("sign");
        core.add_registry_record(humansync_sansio::Instant(0), &record)
            .expect("record");
    }
}
