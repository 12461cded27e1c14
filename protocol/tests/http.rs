//! The pairing API: signed request headers, device-name sanitising and the
//! JSON bodies (HS-HTTP-1 .. HS-HTTP-5, HS-PAIR-4).

#[path = "http/auth.rs"]
mod auth;
#[path = "http/bodies.rs"]
mod bodies;
mod common;

use humansync_protocol::http::sanitize_device_name;
use humansync_protocol::limits::MAX_DEVICE_NAME_LEN;

pub(crate) const TS: u64 = 1_763_000_000_000;
pub(crate) const NONCE: [u8; 16] = [0x11; 16];

/// Snapshots `text` as `tests/snapshots/{crate}__{name}.snap`, wherever the test lives.
pub(crate) fn snapshot(name: &str, text: &str) {
    insta::assert_snapshot!(name, text);
}

#[test]
fn sanitize_device_name_cases() {
    // HS-PAIR-4: controls removed, trimmed, ≤ MAX_DEVICE_NAME_LEN bytes on a char boundary, empty → None.
    let s = |raw: &str| sanitize_device_name(raw);
    assert_eq!(s("Alice's laptop"), Some("Alice's laptop".into()));
    assert_eq!(s("  Alice's laptop \t"), Some("Alice's laptop".into()));
    assert_eq!(s("a\u{0}b\nc\r\u{1b}[31md"), Some("abc[31md".into()));
    assert_eq!(s("\u{7f}x\u{85}\u{9f}"), Some("x".into()), "DEL and C1 controls");
    assert_eq!(s("a  b"), Some("a  b".into()), "inner spaces stay");
    assert_eq!(
        s("\u{2003}name\u{3000}"),
        Some("name".into()),
        "Unicode whitespace trimmed"
    );
    assert_eq!(
        s(" \n\u{0}x\u{0} "),
        Some("x".into()),
        "trimmed after controls are removed"
    );
    assert_eq!(s(""), None);
    assert_eq!(s("   "), None);
    assert_eq!(s("\n\t\r\u{0}"), None);
    assert_eq!(s(" \u{1} \u{2} "), None);

    let exact = "n".repeat(MAX_DEVICE_NAME_LEN);
    assert_eq!(s(&exact).as_deref(), Some(exact.as_str()));
    assert_eq!(s(&format!("{exact}X")).as_deref(), Some(exact.as_str()));
    // 'é' is 2 bytes: "a" + 32 × 'é' is 65 bytes; byte 64 falls inside a char, cut at 63.
    let accented = format!("a{}", "é".repeat(32));
    assert_eq!(accented.len(), 65);
    let cut = s(&accented).expect("non-empty");
    assert_eq!(cut, format!("a{}", "é".repeat(31)));
    assert_eq!(cut.len(), 63);
    // 4-byte chars: 16 fit exactly; with a 2-byte prefix only 15 do.
    let emoji = "😀".repeat(17);
    assert_eq!(s(&emoji), Some("😀".repeat(16)));
    let prefixed = format!("ab{}", "😀".repeat(16));
    assert_eq!(s(&prefixed), Some(format!("ab{}", "😀".repeat(15))));
    // Whitespace exposed by the cut is trimmed too.
    let spaced = format!("x{}y", " ".repeat(MAX_DEVICE_NAME_LEN));
    assert_eq!(s(&spaced), Some("x".into()));
    // Controls do not count towards the limit: they are removed first.
    let with_controls = format!("{}{exact}", "\u{0}".repeat(10));
    assert_eq!(s(&with_controls).as_deref(), Some(exact.as_str()));
}
