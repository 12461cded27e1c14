//! The admission gate as a table of cases (HS-GATE-2).

mod registry_support;

use humansync_protocol::{CloseCode, DeviceId};
use humansync_sansio::gate::{Admission, admit};
use humansync_sansio::registry::Registry;
use registry_support::*;

const ME: u8 = 2;

/// Anchor; 1 and ME registered; 3 registered then revoked; 4 revoked only; 5 unknown.
fn paired() -> Registry {
    let mut reg = registry();
    for rec in [
        device(1, "one", 1),
        device(ME, "me", 1),
        device(3, "three", 1),
        revoked(3, 9),
        revoked(4, 9),
    ] {
        reg.insert(&rec).expect("valid");
    }
    reg
}

// HS-GATE-2: every case of the admission rule, with the exact close code.
#[test]
fn admission_table() {
    let reg = paired();
    let unpaired = Registry::new(None);
    let reject_nr = Admission::Reject(CloseCode::NOT_REGISTERED);
    let reject_rev = Admission::Reject(CloseCode::REVOKED);
    let cases: [(&str, DeviceId, DeviceId, &Registry, Admission); 9] = [
        ("anchor", anchor(), id(ME), &reg, Admission::Admit),
        ("registered", id(1), id(ME), &reg, Admission::Admit),
        ("registered, then revoked", id(3), id(ME), &reg, reject_rev),
        ("revoked without Device record", id(4), id(ME), &reg, reject_rev),
        ("unknown", id(5), id(ME), &reg, reject_nr),
        ("self, registered", id(ME), id(ME), &reg, reject_nr),
        ("self, the anchor", anchor(), anchor(), &reg, reject_nr),
        (
            "unpaired node, anchor-to-be",
            anchor(),
            id(ME),
            &unpaired,
            reject_nr,
        ),
        ("unpaired node, any peer", id(1), id(ME), &unpaired, reject_nr),
    ];
    for (name, peer, me, registry, expected) in cases {
        assert_eq!(admit(&peer, &me, registry), expected, "case: {name}");
    }
}

// HS-GATE-2: the anchor decides for itself: it admits registered devices, refuses revoked ones.
#[test]
fn anchor_as_the_deciding_node() {
    let reg = paired();
    assert_eq!(admit(&id(1), &anchor(), &reg), Admission::Admit);
    assert_eq!(
        admit(&id(3), &anchor(), &reg),
        Admission::Reject(CloseCode::REVOKED)
    );
    assert!(!admit(&id(5), &anchor(), &reg).is_admit());
}

// HS-GATE-4: the verdict follows the registry: a revocation arriving flips Admit to Reject(REVOKED).
#[test]
fn verdict_changes_when_registry_changes() {
    let mut reg = paired();
    assert_eq!(admit(&id(1), &id(ME), &reg), Admission::Admit);
    reg.insert(&revoked(1, 20)).expect("valid");
    assert_eq!(
        admit(&id(1), &id(ME), &reg),
        Admission::Reject(CloseCode::REVOKED)
    );
}
