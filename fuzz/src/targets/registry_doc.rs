//! `registry_doc`: arbitrary bytes as a `_devices` Automerge document, absorbed into a registry
//! that already holds a revocation, then healed (HS-REG-2 .. HS-REG-4).
//!
//! Input: byte 0 even = the rest is a whole saved document; odd = the rest is merged into the
//! fixture's `_devices` with `load_incremental` (as a peer's DocWhole is). Checked: no panic;
//! every record held before is still held and the revoked device stays revoked; reported
//! changes match the view; a second absorb changes nothing; after `heal_doc` the document
//! (also after save and reload) yields every record of the view to a fresh reader.

use automerge::{ActorId, Automerge};
use humansync_protocol::DeviceId;
use humansync_protocol::limits::MAX_REGISTRY_RECORDS;
use humansync_sansio::registry::{Registry, RegistryChange};
use humansync_sansio::untrusted;

use crate::fixture::fixture;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    // Through the bounded checks, as the core parses a peer's bytes (HS-SYNC-12).
    let doc = if mode % 2 == 0 {
        untrusted::load(rest)
    } else {
        untrusted::load(&fx.devices_doc)
            .and_then(|mut doc| untrusted::load_incremental(&mut doc, rest).map(|_| doc))
    };
    let Ok(doc) = doc else {
        return;
    };
    // Heal writes with the document's actor: make it fixed so runs replay exactly.
    let mut doc = doc.with_actor(ActorId::from(vec![0xa2; 16]));
    let mut registry = fx.base_registry();
    let before: Vec<String> = registry.records().map(|r| r.key()).collect();
    let revoked = DeviceId::from(&fx.revoked);

    let changes = registry.absorb_doc(&doc);
    for change in &changes {
        match change {
            RegistryChange::Added(d) => assert!(registry.is_registered(d)),
            RegistryChange::Revoked(d) => assert!(registry.is_revoked(d)),
        }
    }
    check_kept(&registry, &before, &revoked);
    assert!(registry.record_count() <= MAX_REGISTRY_RECORDS);
    assert!(
        registry.absorb_doc(&doc).is_empty(),
        "absorbing the same document twice changed the view"
    );

    registry.heal_doc(&mut doc);
    check_kept(&registry, &before, &revoked);
    let keys: Vec<String> = registry.records().map(|r| r.key()).collect();
    check_readable(&doc, &keys);
    let reloaded = untrusted::load(&doc.save()).expect("a healed document saves and reloads");
    check_readable(&reloaded, &keys);
}

/// HS-REG-4: the view only grows and revocation is permanent.
fn check_kept(registry: &Registry, before: &[String], revoked: &DeviceId) {
    for key in before {
        assert!(registry.contains_key(key), "HS-REG-4: record {key} was dropped");
    }
    assert!(registry.is_revoked(revoked), "HS-REG-4: a revocation was lifted");
    assert!(!registry.is_admitted(revoked));
}

/// A fresh reader of `doc` finds every record in `keys` (the heal is complete, HS-REG-4).
fn check_readable(doc: &Automerge, keys: &[String]) {
    let mut fresh = Registry::new(Some(fixture().anchor_id()));
    fresh.absorb_doc(doc);
    for key in keys {
        assert!(
            fresh.contains_key(key),
            "record {key} missing from the healed document"
        );
    }
}
