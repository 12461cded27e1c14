//! What the server does with a pairing request (HS-HTTP-2, HS-PAIR-4, HS-REG-4).

mod registry_support;

use humansync_protocol::limits::MAX_DEVICE_NAME_LEN;
use humansync_sansio::pairing::{PairDecision, decide_pair};
use humansync_sansio::registry::Registry;
use registry_support::*;

/// Device 1 registered, device 2 registered then revoked, device 3 unknown.
fn server_registry() -> Registry {
    let mut reg = registry();
    for rec in [device(1, "laptop", 1), device(2, "old phone", 1), revoked(2, 5)] {
        reg.insert(&rec).expect("valid");
    }
    reg
}

// HS-HTTP-2: a wrong password is reported first, whatever the id or the name.
#[test]
fn wrong_password_comes_first() {
    let reg = server_registry();
    for n in [1, 2, 3] {
        assert_eq!(
            decide_pair(&reg, &id(n), "name", false),
            PairDecision::WrongPassword
        );
    }
    assert_eq!(
        decide_pair(&reg, &id(3), "\u{7}  ", false),
        PairDecision::WrongPassword
    );
    assert_eq!(
        decide_pair(&reg, &anchor(), "x", false),
        PairDecision::WrongPassword
    );
}

// HS-PAIR-4: a name that sanitises to nothing is a bad request.
#[test]
fn empty_name_after_sanitising_is_bad() {
    let reg = server_registry();
    for raw in ["", "   ", "\u{0}\u{1b}\n\t", " \u{7f} "] {
        assert_eq!(
            decide_pair(&reg, &id(3), raw, true),
            PairDecision::BadName,
            "raw {raw:?}"
        );
    }
}

// HS-REG-4, HS-HTTP-2: a revoked id can never pair again (403 revoked), whatever name it sends.
#[test]
fn revoked_id_is_refused() {
    let reg = server_registry();
    assert_eq!(
        decide_pair(&reg, &id(2), "new phone", true),
        PairDecision::Revoked
    );
    assert_eq!(decide_pair(&reg, &id(2), "", true), PairDecision::Revoked);
}

// HS-HTTP-2: re-pairing a registered, unrevoked id is idempotent; the existing record is returned.
#[test]
fn registered_id_is_idempotent() {
    let reg = server_registry();
    assert_eq!(
        decide_pair(&reg, &id(1), "renamed", true),
        PairDecision::AlreadyRegistered
    );
    assert_eq!(
        decide_pair(&reg, &id(1), "", true),
        PairDecision::AlreadyRegistered
    );
    let existing: Vec<_> = reg.records_for(&id(1)).cloned().collect();
    assert_eq!(existing, vec![device(1, "laptop", 1)]);
}

// The anchor's own id cannot be registered as a device.
#[test]
fn anchor_id_is_refused() {
    let reg = server_registry();
    assert_eq!(
        decide_pair(&reg, &anchor(), "server", true),
        PairDecision::IsAnchor
    );
}

// HS-PAIR-4: a new id is registered under its sanitised name.
#[test]
fn new_id_is_registered_with_sanitised_name() {
    let reg = server_registry();
    assert_eq!(
        decide_pair(&reg, &id(3), "  Ada's\u{7} phone\n ", true),
        PairDecision::Register {
            name: "Ada's phone".into()
        }
    );
    // Cut to MAX_DEVICE_NAME_LEN bytes on a character boundary: 40 × 'é' (2 bytes) → 32 chars.
    let long = "é".repeat(40);
    match decide_pair(&reg, &id(3), &long, true) {
        PairDecision::Register { name } => {
            assert_eq!(name.len(), MAX_DEVICE_NAME_LEN);
            assert_eq!(name, "é".repeat(32));
        }
        other => panic!("expected Register, got {other:?}"),
    }
}
