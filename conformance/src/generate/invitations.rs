//! invitations.json: invitation links (HS-INV-1), redemption proofs (HS-INV-3), the contexts
//! bound into OPAQUE logins (HS-PAIR-11) and the `HumanSync-OPAQUE` header (HS-HTTP-4).
//!
//! The OPAQUE messages themselves, with every random input fixed, are in opaque.json.

use humansync_protocol::invitation::{Invitation, MAX_LINK_LEN};
use humansync_protocol::login::{Hex, OpaqueAuth};
use humansync_sansio::pairing::pake::Context;
use serde_json::json;

use super::Cases;
use crate::format::{Case, Expect};
use crate::keys;

pub(crate) const DESCRIPTION: &str = "Invitations and login contexts (HTTP API version 2). \
`invitation_link`: a link text; valid links yield their fields and the invitation id (the public \
key of `key`); invalid ones are refused. `invitation_redeem`: a redemption request and the \
server id; valid when the signature verifies over the documented bytes (`signed_input`). \
`login_context`: the OPAQUE context bytes of a pairing or revocation login. `opaque_auth_header`: \
the Authorization header of DELETE /devices/{id}.";

const INV1: &[&str] = &["HS-INV-1"];

fn invitation() -> Invitation {
    Invitation {
        url: "http://192.168.1.10:8080".into(),
        server: keys::id("server"),
        secret: keys::bytes32("invitation"),
        expires_at_ms: 1_700_000_600_000,
        addrs: vec!["192.168.1.10:4433".into(), "[fd00::1]:4433".into()],
    }
}

fn link_ok(c: &mut Cases, what: &str, link: &str, inv: &Invitation) {
    c.push(
        Case::new(String::new(), "invitation_link", INV1, what, Expect::Valid)
            .with("link", link)
            .expect(json!({
                "url": inv.url, "server": inv.server.to_string(), "key": hex::encode(inv.secret),
                "exp": inv.expires_at_ms, "addrs": inv.addrs, "id": inv.id().to_string(),
            })),
    );
}

fn link_bad(c: &mut Cases, what: &str, link: &str, reason: &str) {
    c.push(
        Case::new(String::new(), "invitation_link", INV1, what, Expect::Invalid)
            .with("link", link)
            .because(reason)
            .expect(json!({"refused": reason})),
    );
}

fn links(c: &mut Cases) {
    let inv = invitation();
    let link = inv.to_link();
    link_ok(c, "a link with two addresses", &link, &inv);
    link_ok(
        c,
        "surrounding white space is ignored",
        &format!("  {link}\n"),
        &inv,
    );
    link_ok(
        c,
        "an unknown parameter is ignored",
        &format!("{link}&hint=new"),
        &inv,
    );
    let bare = Invitation {
        addrs: Vec::new(),
        ..inv.clone()
    };
    link_ok(c, "no addresses", &bare.to_link(), &bare);
    let reordered = link.replacen("v=1&", "", 1).replacen("pair?", "pair?v=1&", 1);
    link_ok(
        c,
        "parameters in another order are the same link",
        &reordered,
        &inv,
    );
    link_bad(
        c,
        "another scheme",
        &link.replacen("humansync://", "https://", 1),
        "scheme",
    );
    link_bad(c, "version 2", &link.replacen("v=1", "v=2", 1), "version");
    link_bad(
        c,
        "key given twice",
        &format!("{link}&key={}", hex::encode(inv.secret)),
        "param",
    );
    link_bad(
        c,
        "key missing",
        &link.replace(&format!("&key={}", hex::encode(inv.secret)), ""),
        "param",
    );
    link_bad(
        c,
        "a key of 31 bytes",
        &link.replace(&hex::encode(inv.secret), &hex::encode(&inv.secret[..31])),
        "param",
    );
    link_bad(
        c,
        "a url that is not http(s)",
        &link.replace("url=http", "url=ftp"),
        "param",
    );
    link_bad(
        c,
        "a reserved character not percent-encoded",
        &link.replace("%3A8080", ":8080"),
        "param",
    );
    link_bad(
        c,
        "a broken percent-encoding",
        &link.replace("%3A8080", "%3"),
        "param",
    );
    link_bad(c, "exp not a number", &link.replace("exp=", "exp=x"), "param");
    link_bad(
        c,
        "nine addresses",
        &format!("{link}{}", "&addr=10.0.0.1%3A1".repeat(7)),
        "param",
    );
    link_bad(
        c,
        "longer than MAX_LINK_LEN",
        &format!("{link}&x={}", "a".repeat(MAX_LINK_LEN)),
        "too_long",
    );
}

fn redemptions(c: &mut Cases) {
    let inv = invitation();
    let reqs = &["HS-INV-3", "HS-ID-5"];
    let request = inv.redeem_request(keys::id("phone"), "phone");
    let input = humansync_protocol::invitation::redeem_input(
        &inv.server,
        &request.invitation,
        &request.node_id,
        &request.device_name,
    );
    let case =
        |what: &str, body: &humansync_protocol::invitation::RedeemRequest, server: String, result: Expect| {
            Case::new(String::new(), "invitation_redeem", reqs, what, result)
                .with("request", serde_json::to_value(body).expect("json"))
                .with("server", server)
        };
    c.push(
        case("a valid proof", &request, inv.server.to_string(), Expect::Valid)
            .expect(json!({"signed_input": hex::encode(&input)})),
    );
    let mut other = request.clone();
    other.node_id = keys::id("thief");
    c.push(
        case(
            "the proof of another device",
            &other,
            inv.server.to_string(),
            Expect::Invalid,
        )
        .because("signature")
        .expect(json!({"refused": "signature"})),
    );
    let mut renamed = request.clone();
    renamed.device_name = "phone2".into();
    c.push(
        case(
            "a renamed device",
            &renamed,
            inv.server.to_string(),
            Expect::Invalid,
        )
        .because("signature")
        .expect(json!({"refused": "signature"})),
    );
    c.push(
        case(
            "a proof for another server",
            &request,
            keys::id("other server").to_string(),
            Expect::Invalid,
        )
        .because("signature")
        .expect(json!({"refused": "signature"})),
    );
    let mut flipped = request.clone();
    flipped.sig.0[63] ^= 0x80;
    c.push(
        case(
            "a non-canonical signature",
            &flipped,
            inv.server.to_string(),
            Expect::Invalid,
        )
        .because("signature")
        .expect(json!({"refused": "signature"})),
    );
}

fn contexts(c: &mut Cases) {
    let (server, device) = (keys::id("server"), keys::id("d1"));
    let pair = Context::pair(&server, &device, "Alice's phone");
    c.push(
        Case::new(
            String::new(),
            "login_context",
            &["HS-PAIR-11"],
            "a pairing login",
            Expect::Valid,
        )
        .with("purpose", "pair")
        .with("server", server.to_string())
        .with("device", device.to_string())
        .with("device_name", "Alice's phone")
        .expect(json!({"context": hex::encode(pair.as_bytes())})),
    );
    let revoke = Context::revoke(&server, &device);
    c.push(
        Case::new(
            String::new(),
            "login_context",
            &["HS-PAIR-11", "HS-HTTP-4"],
            "a revocation login",
            Expect::Valid,
        )
        .with("purpose", "revoke")
        .with("server", server.to_string())
        .with("device", device.to_string())
        .expect(json!({"context": hex::encode(revoke.as_bytes())})),
    );
}

fn headers(c: &mut Cases) {
    let auth = OpaqueAuth {
        login_id: Hex(keys::bytes16("login")),
        ke3: Hex([0x33; 64]),
    };
    let reqs = &["HS-HTTP-4"];
    let ok = json!({"login_id": auth.login_id.to_string(), "ke3": auth.ke3.to_string()});
    let push = |c: &mut Cases, what: &str, header: String, valid: bool| {
        let case = Case::new(
            String::new(),
            "opaque_auth_header",
            reqs,
            what,
            if valid { Expect::Valid } else { Expect::Invalid },
        )
        .with("header", header);
        c.push(if valid {
            case.expect(ok.clone())
        } else {
            case.because("malformed").expect(json!({"refused": "malformed"}))
        });
    };
    push(c, "the canonical form", auth.to_header(), true);
    push(
        c,
        "parameters swapped, spaces after the comma",
        format!("HumanSync-OPAQUE ke3={}, login_id={}", auth.ke3, auth.login_id),
        true,
    );
    push(
        c,
        "Basic credentials (version 1)",
        "Basic YWRtaW46aHVudGVyMg==".into(),
        false,
    );
    push(
        c,
        "ke3 missing",
        format!("HumanSync-OPAQUE login_id={}", auth.login_id),
        false,
    );
    push(
        c,
        "login_id twice",
        format!(
            "HumanSync-OPAQUE login_id={0},login_id={0},ke3={1}",
            auth.login_id, auth.ke3
        ),
        false,
    );
    push(
        c,
        "an unknown parameter",
        format!("{},x=1", auth.to_header()),
        false,
    );
}

/// The cases.
pub(crate) fn cases() -> Cases {
    let mut c = Cases::new("inv");
    links(&mut c);
    redemptions(&mut c);
    contexts(&mut c);
    headers(&mut c);
    c
}
