//! Shared helpers for the registry, gate and pairing tests: deterministic keys,
//! signed records and Automerge documents with fixed actor ids.
#![allow(dead_code)]

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ROOT, ReadDoc, Value};
use ed25519_dalek::SigningKey;
use humansync_protocol::{DeviceId, RegistryRecord, SignedRecord};
use humansync_sansio::registry::{DeviceStatus, RECORDS_KEY, Registry};

/// The anchor's (server's) signing key.
pub(crate) fn anchor_key() -> SigningKey {
    key(0xA0)
}

/// A deterministic signing key for device number `n`.
pub(crate) fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// The device id of key number `n`.
pub(crate) fn id(n: u8) -> DeviceId {
    DeviceId::from(&key(n))
}

/// The anchor's id.
pub(crate) fn anchor() -> DeviceId {
    DeviceId::from(&anchor_key())
}

/// A Device record for device `n`, signed by `signer`.
pub(crate) fn device_signed_by(signer: &SigningKey, n: u8, name: &str, at: u64) -> SignedRecord {
    RegistryRecord::Device {
        device: id(n),
        name: name.to_owned(),
        paired_at_ms: at,
    }
    .sign(signer)
    .expect("small record signs")
}

/// A Device record for device `n`, signed by the anchor.
pub(crate) fn device(n: u8, name: &str, at: u64) -> SignedRecord {
    device_signed_by(&anchor_key(), n, name, at)
}

/// A Revoked record for device `n`, signed by the anchor.
pub(crate) fn revoked(n: u8, at: u64) -> SignedRecord {
    RegistryRecord::Revoked {
        device: id(n),
        revoked_at_ms: at,
    }
    .sign(&anchor_key())
    .expect("small record signs")
}

/// A registry trusting the test anchor.
pub(crate) fn registry() -> Registry {
    Registry::new(Some(anchor()))
}

/// An empty document with actor id `[actor; 16]`.
pub(crate) fn doc(actor: u8) -> Automerge {
    Automerge::new().with_actor(ActorId::from(vec![actor; 16]))
}

/// A copy of `doc` that writes as actor `[actor; 16]`.
pub(crate) fn fork(doc: &Automerge, actor: u8) -> Automerge {
    let mut copy = doc.clone();
    copy.set_actor(ActorId::from(vec![actor; 16]));
    copy
}

/// Puts raw `value` bytes under `key` in the winning `records` map (creating it), bypassing all checks.
pub(crate) fn put_raw(doc: &mut Automerge, key: &str, value: Vec<u8>) {
    let map = match doc.get(ROOT, RECORDS_KEY).expect("root readable") {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    };
    doc.transact(|tx| {
        let map = match map {
            Some(map) => map,
            None => tx.put_object(ROOT, RECORDS_KEY, ObjType::Map)?,
        };
        tx.put(&map, key, value)
    })
    .expect("raw put");
}

/// Deletes `key` from the winning `records` map, as a misbehaving peer might.
pub(crate) fn delete_key(doc: &mut Automerge, key: &str) {
    let Some((Value::Object(ObjType::Map), map)) = doc.get(ROOT, RECORDS_KEY).expect("root readable") else {
        panic!("no records map");
    };
    doc.transact(|tx| tx.delete(&map, key)).expect("delete");
}

/// The keys of the winning `records` map.
pub(crate) fn doc_keys(doc: &Automerge) -> Vec<String> {
    match doc.get(ROOT, RECORDS_KEY).expect("root readable") {
        Some((Value::Object(ObjType::Map), map)) => doc.keys(&map).collect(),
        _ => Vec::new(),
    }
}

/// Everything observable about a registry view, for equality checks.
pub(crate) fn view(registry: &Registry) -> (Vec<(DeviceId, DeviceStatus)>, Vec<String>) {
    (
        registry.devices().map(|(id, s)| (*id, s.clone())).collect(),
        registry.records().map(|r| r.key()).collect(),
    )
}

/// A fresh registry that absorbed `doc` only.
pub(crate) fn absorbed(doc: &Automerge) -> Registry {
    let mut registry = registry();
    registry.absorb_doc(doc);
    registry
}
