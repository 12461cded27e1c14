//! opaque.json: OPAQUE registrations and logins with every random input fixed (HS-PAIR-1,
//! HS-PAIR-11, HS-PAIR-12). RFC 9807's own vectors use the identity key-stretching function;
//! these use HumanSync's suite (argon2id), its credential identifier and its login contexts, so
//! that an implementation built on another OPAQUE library can check it byte for byte.

use humansync_sansio::pairing::pake::Context;
use serde_json::Value;

use super::Cases;
use crate::check::{Observed, opaque};
use crate::format::{Case, Expect};
use crate::keys;

pub(crate) const DESCRIPTION: &str = "OPAQUE (RFC 9807) with HumanSync's cipher suite: OPRF and \
3DH over ristretto255 with SHA-512, argon2id (m = 19456 KiB, t = 2, p = 1) as the KSF, \
credential identifier \"humansync-server-password\", default identities, and the login contexts of \
HS-PAIR-11. Every random value is an input, named as in RFC 9807's test vectors; scalars \
(`server_private_key`, `blind_registration`, `blind_login`) are 32-byte little-endian canonical \
ristretto255 scalars, keyshare seeds go through DeriveKeyPair (RFC 9807 §6.4.2), nonces are used \
as they are. The server's stored keys are `oprf_seed` (64 bytes) and `server_private_key`. \
`opaque_registration`: the registration of `password`; valid cases give the three messages and \
the server's public key. `opaque_login`: a login against `registration_record` with `password` \
under `context` (the device's; `server_context` when the server's differs); `ke1` replaces the \
device's KE1 in transit, `ke3_flip` flips the low bit of that byte of KE3 in transit; valid cases \
give KE1, KE2, KE3, the 64-byte session key and HS-PAIR-12's MAC of `answer`; invalid ones are \
refused with `login_failed` (the password is wrong or the exchange was altered: the device or \
the server finds out) or `malformed` (HTTP 400).";

const PASSWORD: &str = "correct horse battery staple";

/// A canonical scalar named `name` (below 2^252, so below the group order).
fn scalar(name: &str) -> String {
    let mut bytes = keys::bytes32(name);
    bytes[31] &= 0x0f;
    hex::encode(bytes)
}

fn bytes64(name: &str) -> String {
    hex::encode(
        [
            keys::bytes32(&format!("{name}/0")),
            keys::bytes32(&format!("{name}/1")),
        ]
        .concat(),
    )
}

fn value(name: &str) -> String {
    hex::encode(keys::bytes32(name))
}

/// Fills `expected`: the refusal its `reason` names, or the messages this implementation
/// produces; [`super::write`] then checks every case against the implementation.
fn observed(case: Case, observe: fn(&Case) -> Result<Observed, String>) -> Case {
    if case.result == Expect::Invalid {
        // What SPEC.md requires, not what this implementation happens to do.
        let reason = case.reason.clone().unwrap_or_default();
        return case.expect(serde_json::json!({ "refused": reason }));
    }
    match observe(&case) {
        Ok(seen) => case.expect(seen.value),
        Err(e) => case.expect(Value::String(format!("unusable: {e}"))),
    }
}

fn server(case: Case) -> Case {
    case.with("oprf_seed", bytes64("opaque/oprf_seed"))
        .with("server_private_key", scalar("opaque/server_private_key"))
}

/// The generated registration record.
fn record() -> String {
    let case = registration_case();
    opaque::registration(&case)
        .ok()
        .and_then(|seen| {
            seen.value
                .get("registration_record")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

fn registration_case() -> Case {
    server(Case::new(
        String::new(),
        "opaque_registration",
        &["HS-PAIR-1", "HS-PAIR-11"],
        "the server registers its password",
        Expect::Valid,
    ))
    .with("password", PASSWORD)
    .with("blind_registration", scalar("opaque/blind_registration"))
    .with("envelope_nonce", value("opaque/envelope_nonce"))
}

fn login_case(what: &str, requirements: &[&str], result: Expect, context: &Context) -> Case {
    server(Case::new(
        String::new(),
        "opaque_login",
        requirements,
        what,
        result,
    ))
    .with("registration_record", record())
    .with("password", PASSWORD)
    .with("context", hex::encode(context.as_bytes()))
    .with("blind_login", scalar("opaque/blind_login"))
    .with("client_keyshare_seed", value("opaque/client_keyshare_seed"))
    .with("client_nonce", value("opaque/client_nonce"))
    .with("masking_nonce", value("opaque/masking_nonce"))
    .with("server_keyshare_seed", value("opaque/server_keyshare_seed"))
    .with("server_nonce", value("opaque/server_nonce"))
    .with("answer", hex::encode(br#"{"server_node_id":"..."}"#))
}

/// Every case of opaque.json.
pub(crate) fn cases() -> Cases {
    let mut c = Cases::new("opaque");
    c.push(observed(registration_case(), opaque::registration));
    let (server, device) = (keys::id("server"), keys::id("d1"));
    let pair = Context::pair(&server, &device, "Alice's phone");
    let revoke = Context::revoke(&server, &keys::id("d2"));
    let both = &["HS-PAIR-11", "HS-PAIR-12"];
    c.push(observed(
        login_case("a pairing login", both, Expect::Valid, &pair),
        opaque::login,
    ));
    c.push(observed(
        login_case("a revocation login", &["HS-PAIR-11"], Expect::Valid, &revoke),
        opaque::login,
    ));
    c.push(observed(
        login_case(
            "a wrong password: the device cannot finish",
            &["HS-PAIR-11"],
            Expect::Invalid,
            &pair,
        )
        .with("password", "correct horse battery stapler")
        .because("login_failed"),
        opaque::login,
    ));
    let forged = Context::pair(&keys::id("impostor"), &device, "Alice's phone");
    c.push(observed(
        login_case(
            "a man in the middle told the device another server id: the device cannot finish",
            &["HS-PAIR-11", "HS-PAIR-8"],
            Expect::Invalid,
            &forged,
        )
        .with("server_context", hex::encode(pair.as_bytes()))
        .because("login_failed"),
        opaque::login,
    ));
    c.push(observed(
        login_case(
            "KE3 altered in transit: the server refuses",
            &["HS-PAIR-11"],
            Expect::Invalid,
            &pair,
        )
        .with("ke3_flip", 0)
        .because("login_failed"),
        opaque::login,
    ));
    for (what, ke1) in [
        ("KE1 one byte short", vec![0x01; 95]),
        (
            "KE1 whose blinded element is not a ristretto255 encoding",
            vec![0xff; 96],
        ),
        ("KE1 whose blinded element is the identity", vec![0x00; 96]),
    ] {
        c.push(observed(
            login_case(what, &["HS-PAIR-11", "HS-HTTP-2"], Expect::Invalid, &pair)
                .with("ke1", hex::encode(ke1))
                .because("malformed"),
            opaque::login,
        ));
    }
    c
}
