//! doc_ids.json and device_ids.json: the text forms of ids (HS-DOC-1, HS-DOC-2, HS-ID-1, HS-ID-2).

use humansync_protocol::limits::MAX_DOC_ID_LEN;
use serde_json::json;

use super::Cases;
use crate::format::{Case, Expect};
use crate::keys;

pub(crate) const DOC_IDS: &str = "Document ids as UTF-8 text (field `text`): valid ids are accepted unchanged \
(expected.doc); invalid ones MUST be rejected, `reason` names the rule of HS-DOC-1 / HS-DOC-2 broken: \
length, empty_segment, dot_segment, character, reserved.";

pub(crate) const DEVICE_IDS: &str = "Device ids in text form (field `text`): 64 hex characters of an Ed25519 \
public key, either case, normalised to lowercase (expected.device). Invalid: length, hex_digit, \
not_a_point. Acceptable: encodings of points SPEC.md does not yet rule on (small order, non-canonical).";

/// Every doc_ids.json case.
pub(crate) fn doc_ids() -> Cases {
    let mut c = Cases::new("docid");
    let d1 = &["HS-DOC-1"];
    let max = "a".repeat(MAX_DOC_ID_LEN);
    let nested = format!("{}/b", "a".repeat(MAX_DOC_ID_LEN - 2));
    for (text, what) in [
        ("a", "a one-character id"),
        ("notes/shopping-list", "an app id with two segments"),
        (
            "humandocs/doc-6f9a1c2e-0b4d-4e8f-9a7c-3d2e1f0a9b8c",
            "an app id with a uuid",
        ),
        ("a.b~c_d-e/f", "every allowed punctuation character"),
        ("Notes/UPPER/lower/0123456789", "upper case and digits"),
        ("a/_b", "'_' starting a later segment is not reserved"),
        ("a/b.", "a segment ending with '.'"),
        ("-", "a single '-'"),
        ("~/x", "'~' as a segment"),
        ("v1.2/x..y", "dots inside segments"),
        (max.as_str(), "exactly MAX_DOC_ID_LEN (200) bytes"),
        (nested.as_str(), "200 bytes with two segments"),
    ] {
        c.push(
            Case::new(
                String::new(),
                "doc_id",
                d1,
                &format!("valid: {what}"),
                Expect::Valid,
            )
            .with("text", text)
            .expect(json!({ "doc": text })),
        );
    }
    let d2 = &["HS-DOC-2"];
    for (text, what) in [
        ("_devices", "the registry document"),
        ("_settings", "the settings document"),
    ] {
        c.push(
            Case::new(
                String::new(),
                "doc_id",
                d2,
                &format!("valid: {what}"),
                Expect::Valid,
            )
            .with("text", text)
            .expect(json!({ "doc": text })),
        );
    }
    let long = "a".repeat(MAX_DOC_ID_LEN + 1);
    let bad: &[(&str, &str, &str, &str)] = &[
        ("", "length", "HS-DOC-1", "empty"),
        (&long, "length", "HS-DOC-1", "MAX_DOC_ID_LEN + 1 (201) bytes"),
        ("/notes", "empty_segment", "HS-DOC-1", "leading '/'"),
        ("notes/", "empty_segment", "HS-DOC-1", "trailing '/'"),
        ("notes//a", "empty_segment", "HS-DOC-1", "'//'"),
        ("/", "empty_segment", "HS-DOC-1", "only '/'"),
        (".", "dot_segment", "HS-DOC-1", "'.'"),
        ("..", "dot_segment", "HS-DOC-1", "'..'"),
        ("notes/../etc", "dot_segment", "HS-DOC-1", "a '..' segment"),
        (
            ".hidden",
            "dot_segment",
            "HS-DOC-1",
            "a segment starting with '.'",
        ),
        (
            "notes/.git",
            "dot_segment",
            "HS-DOC-1",
            "a later segment starting with '.'",
        ),
        ("notes/a b", "character", "HS-DOC-1", "a space"),
        ("notes\\a", "character", "HS-DOC-1", "a backslash"),
        ("notes:a", "character", "HS-DOC-1", "a colon"),
        ("notes/caf\u{e9}", "character", "HS-DOC-1", "a non-ASCII letter"),
        ("notes/\u{0}", "character", "HS-DOC-1", "a NUL character"),
        ("notes/a\n", "character", "HS-DOC-1", "a newline"),
        (
            "_other",
            "reserved",
            "HS-DOC-2",
            "a '_' first segment other than _devices / _settings",
        ),
        ("_", "reserved", "HS-DOC-2", "a bare '_'"),
        ("_Devices", "reserved", "HS-DOC-2", "_Devices (case matters)"),
        (
            "_devices/x",
            "reserved",
            "HS-DOC-2",
            "_devices with a second segment",
        ),
        (
            "_settings/theme",
            "reserved",
            "HS-DOC-2",
            "_settings with a second segment",
        ),
    ];
    for (text, reason, req, what) in bad {
        c.push(
            Case::new(
                String::new(),
                "doc_id",
                &[req],
                &format!("invalid: {what}"),
                Expect::Invalid,
            )
            .with("text", *text)
            .because(reason),
        );
    }
    c
}

/// Every device_ids.json case.
pub(crate) fn device_ids() -> Cases {
    let mut c = Cases::new("devid");
    let lower = keys::id("alice").to_string();
    let upper = lower.to_uppercase();
    let mixed: String = lower
        .chars()
        .enumerate()
        .map(|(i, ch)| if i % 2 == 0 { ch.to_ascii_uppercase() } else { ch })
        .collect();
    let valid = |c: &mut Cases, text: &str, what: &str| {
        c.push(
            Case::new(String::new(), "device_id", &["HS-ID-2"], what, Expect::Valid)
                .with("text", text)
                .expect(json!({ "device": lower })),
        );
    };
    valid(&mut c, &lower, "lowercase text form");
    valid(
        &mut c,
        &upper,
        "uppercase text form is accepted and normalised to lowercase",
    );
    valid(
        &mut c,
        &mixed,
        "mixed-case text form is accepted and normalised to lowercase",
    );
    let server = keys::id("server").to_string();
    c.push(
        Case::new(
            String::new(),
            "device_id",
            &["HS-ID-1", "HS-ID-2"],
            "another key",
            Expect::Valid,
        )
        .with("text", server.as_str())
        .expect(json!({ "device": server })),
    );
    let not_point = |first: u8| format!("{first:02x}{}", "00".repeat(31));
    let bad: Vec<(String, &str, &str, &str)> = vec![
        (lower[..63].to_owned(), "length", "HS-ID-2", "63 characters"),
        (format!("{lower}0"), "length", "HS-ID-2", "65 characters"),
        (String::new(), "length", "HS-ID-2", "empty"),
        (
            format!("0x{}", &lower[..62]),
            "hex_digit",
            "HS-ID-2",
            "a 0x prefix",
        ),
        (format!("{}g", &lower[..63]), "hex_digit", "HS-ID-2", "a 'g'"),
        (
            format!(" {}", &lower[..63]),
            "hex_digit",
            "HS-ID-2",
            "a leading space",
        ),
        (format!("{lower} "), "length", "HS-ID-2", "a trailing space"),
        (
            not_point(2),
            "not_a_point",
            "HS-ID-1",
            "y = 2 is not on the curve",
        ),
        (
            not_point(7),
            "not_a_point",
            "HS-ID-1",
            "y = 7 is not on the curve",
        ),
    ];
    for (text, reason, req, what) in bad {
        c.push(
            Case::new(
                String::new(),
                "device_id",
                &[req],
                &format!("invalid: {what}"),
                Expect::Invalid,
            )
            .with("text", text)
            .because(reason),
        );
    }
    let open: [(String, &str); 4] = [
        (not_point(1), "the identity point (small order)"),
        ("00".repeat(32), "y = 0, a point of order 4"),
        (
            format!("ed{}7f", "ff".repeat(30)),
            "y = p, a non-canonical encoding of y = 0",
        ),
        (
            format!("01{}80", "00".repeat(30)),
            "the identity with the sign bit set (non-canonical)",
        ),
    ];
    for (text, what) in open {
        c.push(
            Case::new(
                String::new(),
                "device_id",
                &["HS-ID-1"],
                &format!("acceptable: {what}"),
                Expect::Acceptable,
            )
            .with("text", text)
            .because("weak_or_non_canonical_point"),
        );
    }
    c
}
