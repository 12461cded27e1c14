//! pairing.json, part 1: POST /pair/start bodies, device-name sanitising and the
//! pairing decision (HS-HTTP-1, HS-HTTP-2, HS-PAIR-4).

use humansync_protocol::limits::MAX_HTTP_BODY;
use serde_json::{Value, json};

use super::Cases;
use super::registry::{hex_records, signed};
use crate::format::{Case, Expect};
use crate::keys;
use humansync_protocol::RegistryRecord;
use humansync_sansio::pairing::pake::{ClientStart, PakeRng};

pub(crate) const DESCRIPTION: &str = "The pairing API (HTTP API version 2). `pair_request`: a raw POST /pair/start body; valid bodies yield the \
normalised node id and the sanitised device name (control characters removed, whitespace trimmed, cut to \
MAX_DEVICE_NAME_LEN bytes on a character boundary); invalid ones get 400 bad_request. `pair_decision`: \
the server's answer given its registry and whether the login succeeded (password_ok). `auth_header`: the signed \
Authorization header of GET /devices. Cases with `requires` need a live server.";

/// A valid KE1 (OPAQUE, password `hunter2`, RNG seed `[7; 32]`): what a device sends.
fn ke1() -> String {
    let mut rng = PakeRng::from_seed([7; 32]);
    let (ke1, _) = ClientStart::start(b"hunter2", &mut rng).expect("KE1 of a fixed seed");
    hex::encode(ke1)
}

fn body(node: &str, ke1: &str, name: &str) -> String {
    json!({"node_id": node, "device_name": name, "ke1": ke1}).to_string()
}

fn ok(c: &mut Cases, reqs: &[&str], what: &str, body: &str, node: &str, name: &str) {
    c.push(
        Case::new(String::new(), "pair_request", reqs, what, Expect::Valid)
            .with("body", body)
            .expect(json!({"node_id": node, "device_name": name})),
    );
}

fn bad(c: &mut Cases, reqs: &[&str], what: &str, body: &str) {
    c.push(
        Case::new(String::new(), "pair_request", reqs, what, Expect::Invalid)
            .with("body", body)
            .because("bad_request")
            .expect(json!({"status": 400, "code": "bad_request"})),
    );
}

fn requests(c: &mut Cases) {
    let id = keys::id("d1").to_string();
    let k = ke1();
    let k = k.as_str();
    let up = id.to_uppercase();
    let h2 = &["HS-HTTP-2"];
    let p4 = &["HS-HTTP-2", "HS-PAIR-4"];
    ok(
        c,
        h2,
        "a well-formed request",
        &body(&id, k, "Alice's phone"),
        &id,
        "Alice's phone",
    );
    ok(
        c,
        &["HS-HTTP-2", "HS-ID-2", "HS-HTTP-7"],
        "an uppercase node id is normalised",
        &body(&up, k, "phone"),
        &id,
        "phone",
    );
    let reordered = format!(r#"{{"ke1":"{k}","device_name":"phone","node_id":"{id}"}}"#);
    ok(c, h2, "members in another order", &reordered, &id, "phone");
    ok(
        c,
        p4,
        "surrounding spaces are trimmed",
        &body(&id, k, "  laptop  "),
        &id,
        "laptop",
    );
    ok(
        c,
        p4,
        "control characters are removed",
        &body(&id, k, "My\u{7}Phone\u{1b}"),
        &id,
        "MyPhone",
    );
    ok(
        c,
        p4,
        "tab and newline are control characters: removed, not turned into spaces",
        &body(&id, k, "My\tPhone\n"),
        &id,
        "MyPhone",
    );
    ok(
        c,
        p4,
        "a C1 control character (U+0085) is removed",
        &body(&id, k, "a\u{85}b"),
        &id,
        "ab",
    );
    let ascii = "x".repeat(70);
    ok(
        c,
        p4,
        "70 ASCII bytes are cut to MAX_DEVICE_NAME_LEN (64)",
        &body(&id, k, &ascii),
        &id,
        &ascii[..64],
    );
    let accents = "\u{e9}".repeat(40);
    ok(
        c,
        p4,
        "40 two-byte characters are cut to 32 (64 bytes)",
        &body(&id, k, &accents),
        &id,
        &"\u{e9}".repeat(32),
    );
    let straddle = format!("{}\u{e9}", "a".repeat(63));
    ok(
        c,
        p4,
        "a cut inside a character backs off to its start (63 bytes)",
        &body(&id, k, &straddle),
        &id,
        &"a".repeat(63),
    );
    let spaced = format!("{} b", "a".repeat(63));
    ok(
        c,
        p4,
        "whitespace left at the cut is trimmed",
        &body(&id, k, &spaced),
        &id,
        &"a".repeat(63),
    );
    ok(
        c,
        p4,
        "emoji and inner spaces are kept",
        &body(&id, k, "📱 work phone"),
        &id,
        "📱 work phone",
    );
    c.push(
        Case::new(
            String::new(),
            "pair_request",
            p4,
            "Unicode whitespace (U+3000) is trimmed like ASCII spaces",
            Expect::Valid,
        )
        .should()
        .with("body", body(&id, k, "\u{3000}tablet\u{3000}"))
        .expect(json!({"node_id": id, "device_name": "tablet"})),
    );

    bad(c, p4, "a name of spaces only", &body(&id, k, "   "));
    bad(
        c,
        p4,
        "a name of control characters only",
        &body(&id, k, "\u{0}\u{1}\n"),
    );
    bad(c, p4, "an empty name", &body(&id, k, ""));
    bad(c, h2, "not JSON", "node_id=abc");
    bad(c, h2, "truncated JSON", &body(&id, k, "x")[..20]);
    bad(c, h2, "a JSON array", "[]");
    bad(
        c,
        h2,
        "device_name missing",
        &json!({"node_id": id, "ke1": k}).to_string(),
    );
    bad(
        c,
        h2,
        "ke1 missing",
        &json!({"node_id": id, "device_name": "x"}).to_string(),
    );
    bad(
        c,
        h2,
        "node_id missing",
        &json!({"ke1": k, "device_name": "x"}).to_string(),
    );
    let extra = json!({"node_id": id, "ke1": k, "device_name": "x", "admin": true}).to_string();
    bad(c, &["HS-HTTP-2", "HS-HTTP-7"], "an unknown member", &extra);
    let twice = format!(r#"{{"node_id":"{id}","ke1":"{k}","ke1":"{k}","device_name":"x"}}"#);
    bad(c, h2, "a member given twice", &twice);
    bad(
        c,
        h2,
        "ke1 is a number",
        &json!({"node_id": id, "ke1": 1234, "device_name": "x"}).to_string(),
    );
    bad(
        c,
        h2,
        "device_name is null",
        &json!({"node_id": id, "ke1": k, "device_name": null}).to_string(),
    );
    bad(
        c,
        &["HS-HTTP-2", "HS-ID-2"],
        "node_id of 63 hex characters",
        &body(&id[..63], k, "x"),
    );
    bad(
        c,
        &["HS-HTTP-2", "HS-ID-2"],
        "node_id with a non-hex character",
        &body(&format!("{}z", &id[..63]), k, "x"),
    );
    let np = format!("02{}", "00".repeat(31));
    bad(
        c,
        &["HS-HTTP-2", "HS-ID-1"],
        "node_id that is not a curve point",
        &body(&np, k, "x"),
    );

    bad(
        c,
        &["HS-HTTP-2", "HS-HTTP-8"],
        "a version-1 body (the password in clear) is not a login start",
        &json!({"node_id": id, "password": "hunter2", "device_name": "x"}).to_string(),
    );
    bad(
        c,
        &["HS-HTTP-2", "HS-HTTP-7", "HS-PAIR-11"],
        "ke1 one byte short (190 hex characters)",
        &body(&id, &k[..190], "x"),
    );
    bad(
        c,
        &["HS-HTTP-2", "HS-HTTP-7", "HS-PAIR-11"],
        "ke1 with a non-hex character",
        &body(&id, &format!("{}g", &k[..191]), "x"),
    );
    let huge = body(&id, &"p".repeat(MAX_HTTP_BODY), "x");
    c.push(
        Case::new(
            String::new(),
            "pair_request",
            &["HS-HTTP-1", "HS-HTTP-2"],
            "a body over MAX_HTTP_BODY",
            Expect::Invalid,
        )
        .requires("server")
        .with("body", huge)
        .because("body_too_large")
        .expect(json!({"status": 413, "code": "body_too_large"})),
    );
}

fn decision(c: &mut Cases, what: &str, node: &str, name: &str, password_ok: bool, expected: Value) {
    let recs = [
        signed(
            &RegistryRecord::Device {
                device: keys::id("d1"),
                name: "d1".into(),
                paired_at_ms: 1,
            },
            "server",
        ),
        signed(
            &RegistryRecord::Device {
                device: keys::id("d2"),
                name: "d2".into(),
                paired_at_ms: 2,
            },
            "server",
        ),
        signed(
            &RegistryRecord::Revoked {
                device: keys::id("d2"),
                revoked_at_ms: 3,
            },
            "server",
        ),
    ];
    let result = if expected["status"] == 200 {
        Expect::Valid
    } else {
        Expect::Invalid
    };
    let mut case = Case::new(String::new(), "pair_decision", &["HS-HTTP-2"], what, result)
        .with("anchor", keys::id("server").to_string())
        .with("records", hex_records(&recs))
        .with("node_id", keys::id(node).to_string())
        .with("device_name", name)
        .with("password_ok", password_ok);
    if let Some(code) = expected["code"].as_str() {
        case = case.because(code);
    }
    c.push(case.expect(expected));
}

fn decisions(c: &mut Cases) {
    let err = |status: u16, code: &str| json!({"status": status, "code": code});
    decision(
        c,
        "a new device with the right password is registered",
        "d3",
        " Laptop ",
        true,
        json!({"status": 200, "outcome": "register", "name": "Laptop"}),
    );
    decision(
        c,
        "a wrong password is refused (401)",
        "d3",
        "Laptop",
        false,
        err(401, "wrong_password"),
    );
    decision(
        c,
        "re-pairing a registered device is idempotent, whatever name it sends",
        "d1",
        "renamed",
        true,
        json!({"status": 200, "outcome": "existing"}),
    );
    decision(
        c,
        "a revoked device can never pair again (403)",
        "d2",
        "d2",
        true,
        err(403, "revoked"),
    );
    decision(
        c,
        "the password is checked before the registry (a revoked id with a wrong password gets 401)",
        "d2",
        "d2",
        false,
        err(401, "wrong_password"),
    );
    decision(
        c,
        "the server's own id cannot pair (400)",
        "server",
        "me",
        true,
        err(400, "bad_request"),
    );
    decision(
        c,
        "a name that sanitises to nothing (400)",
        "d3",
        "\u{7}\t ",
        true,
        err(400, "bad_request"),
    );
}

/// Adds the pair_request and pair_decision cases.
pub(crate) fn add(c: &mut Cases) {
    requests(c);
    decisions(c);
}
