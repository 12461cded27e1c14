//! HS-ID-4: the text forms of BlobHash, ChangeHash, DocDigest and Fingerprint are lowercase hex
//! of 64 or 32 characters; parsers accept either case and reject every other length.

use humansync_protocol::{BlobHash, ChangeHash, DocDigest, Fingerprint};

#[test]
fn hashes_print_lowercase_and_parse_either_case() {
    let blob = BlobHash([0xab; 32]);
    let text = blob.to_string();
    assert_eq!(text, "ab".repeat(32));
    assert_eq!(text.to_uppercase().parse::<BlobHash>().ok(), Some(blob));
    assert_eq!(
        format!("Ab{}", "aB".repeat(31)).parse::<BlobHash>().ok(),
        Some(blob)
    );
    let change = ChangeHash([0x0f; 32]);
    assert_eq!(change.to_string().parse::<ChangeHash>().ok(), Some(change));

    let digest = DocDigest([0xc3; 16]);
    assert_eq!(digest.to_string(), "c3".repeat(16));
    assert_eq!("C3".repeat(16).parse::<DocDigest>().ok(), Some(digest));
    let fingerprint = Fingerprint([0x5a; 16]);
    assert_eq!("5A".repeat(16).parse::<Fingerprint>().ok(), Some(fingerprint));
}

#[test]
fn hashes_reject_other_lengths_and_non_hex() {
    for bad in [
        "",
        "ab",
        &"ab".repeat(31),
        &format!("{}a", "ab".repeat(32)),
        &"ab".repeat(33),
    ] {
        assert!(bad.parse::<BlobHash>().is_err(), "{bad:?}");
        assert!(bad.parse::<ChangeHash>().is_err(), "{bad:?}");
    }
    // A 32-byte hash is not a digest and a digest is not a hash.
    assert!("ab".repeat(32).parse::<DocDigest>().is_err());
    assert!("ab".repeat(16).parse::<BlobHash>().is_err());
    assert!(format!("{}zz", "ab".repeat(15)).parse::<Fingerprint>().is_err());
    assert!(format!("{}+1", "ab".repeat(31)).parse::<BlobHash>().is_err());
}
