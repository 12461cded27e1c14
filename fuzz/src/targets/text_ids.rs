//! `text_ids`: the text forms of ids on arbitrary strings (HS-ID-2, HS-DOC-1 .. HS-DOC-3,
//! HS-BLOB-1).
//!
//! Checked: no panic; `DocId::new` and the wire decoder agree on every string, and an
//! accepted id keeps its text; a parsed `DeviceId` prints as the input in lowercase and
//! round-trips through postcard and JSON; a parsed blob reference prints as the input in
//! lowercase and parses back.

use std::str::FromStr;

use humansync_protocol::limits::MAX_DOC_ID_LEN;
use humansync_protocol::{BlobHash, DeviceId, DocId, validate_doc_id};

/// Runs one input.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    doc_id(&text);
    device_id(&text);
    blob_ref(&text);
}

fn doc_id(text: &str) {
    let built = DocId::new(text);
    assert_eq!(built.is_ok(), validate_doc_id(text).is_ok());
    // HS-DOC-3: the wire decoder validates exactly like the constructor.
    let wire = postcard::to_allocvec(text).expect("a string encodes");
    let decoded = postcard::from_bytes::<DocId>(&wire);
    assert_eq!(
        decoded.is_ok(),
        built.is_ok(),
        "decoder and constructor disagree on {text:?}"
    );
    if let Ok(id) = built {
        assert_eq!(id.as_str(), text);
        assert!(!text.is_empty() && text.len() <= MAX_DOC_ID_LEN);
        assert_eq!(decoded.ok(), Some(id.clone()));
        assert_eq!(id.is_devices(), text == DocId::DEVICES);
    }
}

fn device_id(text: &str) {
    let Ok(id) = DeviceId::from_str(text) else {
        return;
    };
    assert_eq!(id.to_string(), text.to_ascii_lowercase(), "HS-ID-2");
    assert_eq!(DeviceId::from_str(&id.to_string()), Ok(id));
    let wire = postcard::to_allocvec(&id).expect("an id encodes");
    assert_eq!(postcard::from_bytes::<DeviceId>(&wire).ok(), Some(id));
    let json = serde_json::to_string(&id).expect("an id serialises");
    assert_eq!(serde_json::from_str::<DeviceId>(&json).ok(), Some(id));
}

fn blob_ref(text: &str) {
    let Some(hash) = BlobHash::from_reference(text) else {
        return;
    };
    assert_eq!(hash.to_reference(), text.to_ascii_lowercase(), "HS-BLOB-1");
    assert_eq!(BlobHash::from_reference(&hash.to_reference()), Some(hash));
}
