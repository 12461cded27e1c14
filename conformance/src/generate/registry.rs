//! registry.json: signed registry records, registry views and admission
//! (HS-REG-1, HS-REG-3, HS-REG-4, HS-REG-5, HS-GATE-2).

use ed25519_dalek::{Signer, SigningKey};
use humansync_protocol::registry::signing_input;
use humansync_protocol::{CloseCode, DeviceId, RegistryRecord, SignedRecord};
use serde_json::{Value, json};

use super::Cases;
use super::bytes::{cat, hx, lp, varint};
use crate::format::{Case, Expect};
use crate::keys;

pub(crate) const DESCRIPTION: &str = "Registry records. `signed_record`: postcard(SignedRecord) bytes and the anchor \
id; valid records verify (Ed25519 over REGISTRY_SIGNING_CONTEXT || payload as received) and their payload \
decodes exactly. `registry_view`: records applied in list order → admitted and revoked devices and the \
indices of ignored records. `admission`: the gate's verdict for a peer.";

pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) fn device(name: &str, paired_at_ms: u64) -> RegistryRecord {
    RegistryRecord::Device {
        device: keys::id(name),
        name: name.to_owned(),
        paired_at_ms,
    }
}

pub(crate) fn revoked(name: &str, revoked_at_ms: u64) -> RegistryRecord {
    RegistryRecord::Revoked {
        device: keys::id(name),
        revoked_at_ms,
    }
}

/// `record` signed by the key named `by`.
pub(crate) fn signed(record: &RegistryRecord, by: &str) -> SignedRecord {
    let payload = postcard_record(record);
    sign_payload(payload, &keys::key(by))
}

pub(crate) fn postcard_record(record: &RegistryRecord) -> Vec<u8> {
    let (variant, id, name, ms): (u8, &DeviceId, &str, u64) = match record {
        RegistryRecord::Device {
            device,
            name,
            paired_at_ms,
        } => (0, device, name, *paired_at_ms),
        RegistryRecord::Revoked {
            device,
            revoked_at_ms,
        } => (1, device, "", *revoked_at_ms),
    };
    let name_part = if variant == 0 {
        lp(name.as_bytes())
    } else {
        Vec::new()
    };
    cat(&[&[variant], id.as_bytes(), &name_part, &varint(ms)])
}

pub(crate) fn sign_payload(payload: Vec<u8>, key: &SigningKey) -> SignedRecord {
    let signature = key.sign(&signing_input(&payload)).to_bytes();
    SignedRecord { payload, signature }
}

pub(crate) fn hex_records(records: &[SignedRecord]) -> Vec<String> {
    records.iter().map(|r| hx(&r.encode())).collect()
}

fn view(c: &mut Cases, reqs: &[&str], what: &str, recs: &[SignedRecord], expected: Value) {
    c.push(
        Case::new(String::new(), "registry_view", reqs, what, Expect::Valid)
            .with("anchor", keys::id("server").to_string())
            .with("records", hex_records(recs))
            .expect(expected),
    );
}

fn ids(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|n| keys::id(n).to_string()).collect();
    v.sort();
    v
}

fn views(c: &mut Cases) {
    let r4 = &["HS-REG-4"];
    let d1 = signed(&device("d1", T0), "server");
    let d2 = signed(&device("d2", T0 + 1), "server");
    let x2 = signed(&revoked("d2", T0 + 2), "server");
    let none: [usize; 0] = [];
    view(
        c,
        r4,
        "no records",
        &[],
        json!({"admitted": [], "revoked": [], "ignored": none}),
    );
    view(
        c,
        r4,
        "one Device record",
        std::slice::from_ref(&d1),
        json!({"admitted": ids(&["d1"]), "revoked": [], "ignored": none}),
    );
    let both = json!({"admitted": ids(&["d1"]), "revoked": ids(&["d2"]), "ignored": none});
    view(
        c,
        r4,
        "Device d1, Device d2, Revoked d2: revocation wins",
        &[d1.clone(), d2.clone(), x2.clone()],
        both.clone(),
    );
    view(
        c,
        r4,
        "the same records, revocation first (order independence)",
        &[x2.clone(), d1.clone(), d2.clone()],
        both.clone(),
    );
    view(
        c,
        r4,
        "the same records, another order",
        &[d2.clone(), x2.clone(), d1.clone()],
        both.clone(),
    );
    view(
        c,
        r4,
        "the same records, each twice (a record counts once)",
        &[
            d1.clone(),
            x2.clone(),
            d2.clone(),
            x2.clone(),
            d1.clone(),
            d2.clone(),
        ],
        both,
    );
    let later = signed(&device("d2", T0 + 10), "server");
    let stale = json!({"admitted": [], "revoked": ids(&["d2"]), "ignored": none});
    view(
        c,
        r4,
        "a newer Device record after the revocation never re-admits (stale re-pairing)",
        &[d2.clone(), x2.clone(), later],
        stale,
    );
    let only = json!({"admitted": [], "revoked": ids(&["d3"]), "ignored": none});
    view(
        c,
        r4,
        "a Revoked record for a device never registered",
        &[signed(&revoked("d3", T0), "server")],
        only,
    );
    let forged = signed(&device("mallory", T0), "d1");
    let resurrect = signed(&device("d2", T0 + 20), "d1");
    let r5 = &["HS-REG-3", "HS-REG-4", "HS-REG-5"];
    let ignored = json!({"admitted": ids(&["d1"]), "revoked": ids(&["d2"]), "ignored": [3, 4]});
    view(
        c,
        r5,
        "records forged by a registered device are ignored",
        &[d1.clone(), d2, x2, forged, resurrect],
        ignored,
    );
    let mut broken = d1.clone();
    broken.signature[0] ^= 0x80;
    let old = signed(&device("d3", T0), "old-server");
    view(
        c,
        r5,
        "a bad signature and another anchor's record are ignored",
        &[broken, old, d1],
        json!({"admitted": ids(&["d1"]), "revoked": [], "ignored": [0, 1]}),
    );
}

fn admission(c: &mut Cases, what: &str, anchor: Option<&str>, me: &str, peer: &str, verdict: Value) {
    let recs = [
        signed(&device("d1", T0), "server"),
        signed(&device("d2", T0), "server"),
        signed(&revoked("d2", T0 + 1), "server"),
        signed(&device("d4", T0), "mallory"),
    ];
    c.push(
        Case::new(String::new(), "admission", &["HS-GATE-2"], what, Expect::Valid)
            .with("anchor", anchor.map(|a| keys::id(a).to_string()))
            .with("records", hex_records(&recs))
            .with("me", keys::id(me).to_string())
            .with("peer", keys::id(peer).to_string())
            .expect(verdict),
    );
}

/// Every registry.json case.
pub(crate) fn cases() -> Cases {
    let mut c = Cases::new("reg");
    super::registry_records::add(&mut c);
    views(&mut c);
    let admit = json!({"verdict": "admit"});
    let reject = |code: CloseCode| json!({"verdict": "reject", "close_code": code.0});
    admission(
        &mut c,
        "the anchor (server) is admitted",
        Some("server"),
        "d1",
        "server",
        admit.clone(),
    );
    admission(
        &mut c,
        "a registered device is admitted",
        Some("server"),
        "d3",
        "d1",
        admit.clone(),
    );
    admission(
        &mut c,
        "the server admits a registered device",
        Some("server"),
        "server",
        "d1",
        admit,
    );
    admission(
        &mut c,
        "a revoked device is refused with CLOSE_REVOKED",
        Some("server"),
        "d1",
        "d2",
        reject(CloseCode::REVOKED),
    );
    admission(
        &mut c,
        "an unknown device is refused with CLOSE_NOT_REGISTERED",
        Some("server"),
        "d1",
        "d9",
        reject(CloseCode::NOT_REGISTERED),
    );
    admission(
        &mut c,
        "a device whose record is forged is unknown",
        Some("server"),
        "d1",
        "d4",
        reject(CloseCode::NOT_REGISTERED),
    );
    admission(
        &mut c,
        "a node never admits itself",
        Some("server"),
        "d1",
        "d1",
        reject(CloseCode::NOT_REGISTERED),
    );
    admission(
        &mut c,
        "an unpaired node (no anchor) admits nobody",
        None,
        "d1",
        "server",
        reject(CloseCode::NOT_REGISTERED),
    );
    c
}
