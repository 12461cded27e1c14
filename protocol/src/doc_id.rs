//! Document ids and their validation (SPEC.md §7, HS-DOC-1 .. HS-DOC-3).

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::limits::MAX_DOC_ID_LEN;

/// Why a document id was rejected (HS-DOC-1, HS-DOC-2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocIdError {
    /// Empty, or longer than [`MAX_DOC_ID_LEN`] bytes.
    #[error("document id must be 1..={MAX_DOC_ID_LEN} bytes, got {0}")]
    Length(usize),
    /// An empty segment: leading, trailing or doubled `/`.
    #[error("document id has an empty segment")]
    EmptySegment,
    /// A segment is `.`, `..` or starts with `.`.
    #[error("document id segment may not start with '.'")]
    DotSegment,
    /// A character outside `[A-Za-z0-9._~-]` and `/`.
    #[error("document id has a disallowed character at byte {0}")]
    Character(usize),
    /// A `_`-prefixed first segment that is not a known system document.
    #[error("document ids starting with '_' are reserved for system documents")]
    Reserved,
}

/// A validated document id such as `humandocs/doc-6f9…` or `_devices` (HS-DOC-1).
///
/// Shared text: a node keeps an id in several maps (index, set summary, change log, sessions,
/// store), and a clone is a reference count, not a new allocation — at 100,000 documents a
/// `String` per clone was about half the device's live heap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(Arc<str>);

impl DocId {
    /// The registry document (HS-REG-2).
    pub const DEVICES: &'static str = "_devices";
    /// The shared settings document (HS-DOC-2).
    pub const SETTINGS: &'static str = "_settings";

    /// Validates `text` as a document id (HS-DOC-1, HS-DOC-2).
    pub fn new(text: impl Into<String>) -> Result<Self, DocIdError> {
        let text = text.into();
        validate(&text)?;
        Ok(DocId(text.into()))
    }

    /// The registry document id `_devices`.
    pub fn devices() -> Self {
        DocId(Self::DEVICES.into())
    }

    /// True for `_devices`.
    pub fn is_devices(&self) -> bool {
        &*self.0 == Self::DEVICES
    }

    /// True for system documents (first segment starts with `_`).
    pub fn is_system(&self) -> bool {
        self.0.starts_with('_')
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the rules of HS-DOC-1 and HS-DOC-2 without allocating.
pub fn validate(text: &str) -> Result<(), DocIdError> {
    if text.is_empty() || text.len() > MAX_DOC_ID_LEN {
        return Err(DocIdError::Length(text.len()));
    }
    for (i, b) in text.bytes().enumerate() {
        let ok = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-' | b'/');
        if !ok {
            return Err(DocIdError::Character(i));
        }
    }
    for segment in text.split('/') {
        if segment.is_empty() {
            return Err(DocIdError::EmptySegment);
        }
        if segment.starts_with('.') {
            return Err(DocIdError::DotSegment);
        }
    }
    if text.starts_with('_') {
        let first = text.split('/').next().unwrap_or_default();
        if text.contains('/') || (first != DocId::DEVICES && first != DocId::SETTINGS) {
            return Err(DocIdError::Reserved);
        }
    }
    Ok(())
}

impl std::str::FromStr for DocId {
    type Err = DocIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocId::new(s)
    }
}

impl std::fmt::Display for DocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for DocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DocId({:?})", self.0)
    }
}

impl std::borrow::Borrow<str> for DocId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for DocId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for DocId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DocId {
    /// Validates before allocating (HS-DOC-3).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = DocId;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a document id")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DocId, E> {
                validate(v).map_err(E::custom)?;
                Ok(DocId(v.into()))
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_app_and_system_ids() {
        // HS-DOC-1, HS-DOC-2
        for ok in [
            "notes/shopping-list",
            "humandocs/doc-6f9a",
            "_devices",
            "_settings",
            "a",
            "a.b~c_d-e/f",
        ] {
            assert!(DocId::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_ids() {
        // HS-DOC-1, HS-DOC-2
        let long = "a".repeat(MAX_DOC_ID_LEN + 1);
        let cases: &[(&str, DocIdError)] = &[
            ("", DocIdError::Length(0)),
            (&long, DocIdError::Length(MAX_DOC_ID_LEN + 1)),
            ("/abs", DocIdError::EmptySegment),
            ("a//b", DocIdError::EmptySegment),
            ("a/", DocIdError::EmptySegment),
            ("a/../b", DocIdError::DotSegment),
            ("..", DocIdError::DotSegment),
            (".hidden", DocIdError::DotSegment),
            ("a b", DocIdError::Character(1)),
            ("a\\b", DocIdError::Character(1)),
            ("é", DocIdError::Character(0)),
            ("_other", DocIdError::Reserved),
            ("_devices/x", DocIdError::Reserved),
        ];
        for (text, err) in cases {
            assert_eq!(DocId::new(*text).expect_err("must be rejected"), *err, "{text:?}");
        }
    }
}
