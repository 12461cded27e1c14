//! The Humandocs document schema, version [`SCHEMA_VERSION`] (HS-DOC-4).
//!
//! One Automerge document per Humandocs document, under `humandocs/doc-{uuid}`:
//!
//! ```text
//! ROOT
//! ├── _schema_version : uint            the highest schema version that wrote this document
//! ├── title           : str             last writer wins
//! ├── body            : Text            edited by splicing, so concurrent edits all survive
//! ├── created_at_ms   : uint            unix ms
//! ├── updated_at_ms   : uint            unix ms of the last local edit (last writer wins)
//! └── attachments     : Map name → Map
//!     ├── blob        : str "hsblob:<hash>"  (HS-BLOB-1: every device fetches the blob)
//!     ├── name        : str
//!     ├── size        : uint             bytes
//!     ├── type        : str             a MIME type guessed from the name
//!     └── added_at_ms : uint
//! ```
//!
//! The schema is additive: a later version may add keys, never remove, rename or retype one. Every
//! edit here touches only the keys it changes, inside the existing document, so keys written by
//! a newer version (or another app) are preserved; nothing is ever rewritten from a typed model.

use humansync::BlobHash;
use humansync::automerge::transaction::{Transactable, Transaction};
use humansync::automerge::{ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde::Serialize;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = 1;
/// Root key holding the schema version.
pub const KEY_SCHEMA: &str = "_schema_version";
/// Root key of the title.
pub const KEY_TITLE: &str = "title";
/// Root key of the body text.
pub const KEY_BODY: &str = "body";
/// Root key of the creation time.
pub const KEY_CREATED: &str = "created_at_ms";
/// Root key of the last local edit time.
pub const KEY_UPDATED: &str = "updated_at_ms";
/// Root key of the attachments map.
pub const KEY_ATTACHMENTS: &str = "attachments";

/// Longest title accepted, in bytes.
pub const MAX_TITLE_BYTES: usize = 1024;
/// Longest text inserted by one edit, in bytes.
pub const MAX_INSERT_BYTES: usize = 1 << 20;
/// Longest attachment name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Why a document could not be read or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A key holds a value of another type than the schema says.
    #[error("field {key:?} has an unexpected type")]
    WrongType {
        /// The key.
        key: String,
    },
    /// A text position or range lies outside the body.
    #[error("position {pos}..{end} is outside the body (length {len} characters)")]
    OutOfRange {
        /// Start of the range, in characters.
        pos: usize,
        /// End of the range, in characters.
        end: usize,
        /// Body length, in characters.
        len: usize,
    },
    /// An input exceeds a limit.
    #[error("{what} is too long ({len} bytes, at most {max})")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An attachment name is empty or contains `/`, `\\` or control characters.
    #[error("invalid attachment name {0:?}")]
    BadName(String),
    /// Automerge refused the operation.
    #[error("automerge: {0}")]
    Automerge(String),
}

impl From<humansync::automerge::AutomergeError> for SchemaError {
    fn from(e: humansync::automerge::AutomergeError) -> Self {
        SchemaError::Automerge(e.to_string())
    }
}

/// An attachment as listed in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// The file name (the key in `attachments`).
    pub name: String,
    /// The blob holding the bytes.
    pub hash: BlobHash,
    /// Size in bytes.
    pub size: u64,
    /// MIME type.
    #[serde(rename = "type")]
    pub mime: String,
    /// When it was attached (unix ms), if recorded.
    pub added_at_ms: Option<u64>,
}

/// A typed, read-only view of one document (never written back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocView {
    /// `_schema_version`, 0 when absent.
    pub schema_version: u64,
    /// The title, empty when absent.
    pub title: String,
    /// The body text, empty when absent.
    pub body: String,
    /// Creation time, unix ms.
    pub created_at_ms: Option<u64>,
    /// Last local edit, unix ms.
    pub updated_at_ms: Option<u64>,
    /// Attachments sorted by name; malformed entries are skipped.
    pub attachments: Vec<Attachment>,
}

/// Reads a document into a [`DocView`].
pub fn read(doc: &impl ReadDoc) -> Result<DocView, SchemaError> {
    let body = match doc.get(ROOT, KEY_BODY)? {
        None => String::new(),
        Some((Value::Object(ObjType::Text), id)) => doc.text(&id)?,
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(text) => text.to_string(),
            _ => return Err(wrong(KEY_BODY)),
        },
        Some(_) => return Err(wrong(KEY_BODY)),
    };
    let title = match doc.get(ROOT, KEY_TITLE)? {
        None => String::new(),
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(text) => text.to_string(),
            _ => return Err(wrong(KEY_TITLE)),
        },
        Some((Value::Object(ObjType::Text), id)) => doc.text(&id)?,
        Some(_) => return Err(wrong(KEY_TITLE)),
    };
    Ok(DocView {
        schema_version: uint_at(doc, &ROOT, KEY_SCHEMA).unwrap_or(0),
        title,
        body,
        created_at_ms: uint_at(doc, &ROOT, KEY_CREATED),
        updated_at_ms: uint_at(doc, &ROOT, KEY_UPDATED),
        attachments: attachments(doc)?,
    })
}

fn wrong(key: &str) -> SchemaError {
    SchemaError::WrongType { key: key.to_owned() }
}

fn uint_at(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<u64> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Uint(u) => Some(*u),
            ScalarValue::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        },
        _ => None,
    }
}

fn str_at(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(text) => Some(text.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn attachments(doc: &impl ReadDoc) -> Result<Vec<Attachment>, SchemaError> {
    let map = match doc.get(ROOT, KEY_ATTACHMENTS)? {
        None => return Ok(Vec::new()),
        Some((Value::Object(ObjType::Map), id)) => id,
        Some(_) => return Err(wrong(KEY_ATTACHMENTS)),
    };
    let mut out = Vec::new();
    for name in doc.keys(&map) {
        let Ok(Some((Value::Object(ObjType::Map), entry))) = doc.get(&map, name.as_str()) else {
            continue;
        };
        let Some(hash) = str_at(doc, &entry, "blob").and_then(|r| BlobHash::from_reference(&r)) else {
            continue;
        };
        out.push(Attachment {
            hash,
            size: uint_at(doc, &entry, "size").unwrap_or(0),
            mime: str_at(doc, &entry, "type").unwrap_or_else(|| "application/octet-stream".into()),
            added_at_ms: uint_at(doc, &entry, "added_at_ms"),
            name,
        });
    }
    Ok(out)
}

/// Marks a document as written by this schema version (never lowers a newer one) and stamps
/// `updated_at_ms`. Every edit below calls it.
fn touch(tx: &mut Transaction<'_>, now_ms: u64) -> Result<(), SchemaError> {
    if uint_at(tx, &ROOT, KEY_SCHEMA).is_none_or(|v| v < SCHEMA_VERSION) {
        tx.put(ROOT, KEY_SCHEMA, SCHEMA_VERSION)?;
    }
    tx.put(ROOT, KEY_UPDATED, now_ms)?;
    Ok(())
}

/// Fills a new document: version, title, body text and creation time.
pub fn init(tx: &mut Transaction<'_>, title: &str, body: &str, now_ms: u64) -> Result<(), SchemaError> {
    check_len("title", title, MAX_TITLE_BYTES)?;
    check_len("body", body, MAX_INSERT_BYTES)?;
    touch(tx, now_ms)?;
    tx.put(ROOT, KEY_CREATED, now_ms)?;
    tx.put(ROOT, KEY_TITLE, title)?;
    let text = tx.put_object(ROOT, KEY_BODY, ObjType::Text)?;
    tx.splice_text(&text, 0, 0, body)?;
    tx.put_object(ROOT, KEY_ATTACHMENTS, ObjType::Map)?;
    Ok(())
}

fn check_len(what: &'static str, text: &str, max: usize) -> Result<(), SchemaError> {
    if text.len() > max {
        return Err(SchemaError::TooLong {
            what,
            len: text.len(),
            max,
        });
    }
    Ok(())
}

/// Sets the title (last writer wins).
pub fn set_title(tx: &mut Transaction<'_>, title: &str, now_ms: u64) -> Result<(), SchemaError> {
    check_len("title", title, MAX_TITLE_BYTES)?;
    touch(tx, now_ms)?;
    tx.put(ROOT, KEY_TITLE, title)?;
    Ok(())
}

/// The body's Text object, created empty when the document has no body yet.
fn body_text(tx: &mut Transaction<'_>) -> Result<ObjId, SchemaError> {
    match tx.get(ROOT, KEY_BODY)? {
        Some((Value::Object(ObjType::Text), id)) => Ok(id),
        None => Ok(tx.put_object(ROOT, KEY_BODY, ObjType::Text)?),
        Some(_) => Err(wrong(KEY_BODY)),
    }
}

/// Deletes `delete` characters at `pos` and inserts `insert` there: an Automerge text splice, so a
/// concurrent edit elsewhere in the body survives the merge. Positions count Unicode scalar values.
/// Returns the new body length in characters.
pub fn splice_body(
    tx: &mut Transaction<'_>,
    pos: usize,
    delete: usize,
    insert: &str,
    now_ms: u64,
) -> Result<usize, SchemaError> {
    check_len("inserted text", insert, MAX_INSERT_BYTES)?;
    let text = body_text(tx)?;
    let len = tx.length(&text);
    let end = pos.saturating_add(delete);
    if pos > len || end > len {
        return Err(SchemaError::OutOfRange { pos, end, len });
    }
    let delete = isize::try_from(delete).map_err(|_| SchemaError::OutOfRange { pos, end, len })?;
    touch(tx, now_ms)?;
    tx.splice_text(&text, pos, delete, insert)?;
    Ok(tx.length(&text))
}

/// Appends `insert` at the end of the body. Returns the new length in characters.
pub fn append_body(tx: &mut Transaction<'_>, insert: &str, now_ms: u64) -> Result<usize, SchemaError> {
    let text = body_text(tx)?;
    let len = tx.length(&text);
    splice_body(tx, len, 0, insert, now_ms)
}

/// Checks an attachment name: 1 to [`MAX_NAME_BYTES`] bytes, no path separators or control characters.
pub fn check_name(name: &str) -> Result<(), SchemaError> {
    check_len("attachment name", name, MAX_NAME_BYTES)?;
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(SchemaError::BadName(name.to_owned()));
    }
    Ok(())
}

/// Adds (or replaces) the attachment named `a.name`, referencing its blob (HS-BLOB-1).
pub fn add_attachment(tx: &mut Transaction<'_>, a: &Attachment, now_ms: u64) -> Result<(), SchemaError> {
    check_name(&a.name)?;
    touch(tx, now_ms)?;
    let map = match tx.get(ROOT, KEY_ATTACHMENTS)? {
        Some((Value::Object(ObjType::Map), id)) => id,
        None => tx.put_object(ROOT, KEY_ATTACHMENTS, ObjType::Map)?,
        Some(_) => return Err(wrong(KEY_ATTACHMENTS)),
    };
    // Edit an existing entry in place (keeps keys a newer version added to it).
    let entry = match tx.get(&map, a.name.as_str())? {
        Some((Value::Object(ObjType::Map), id)) => id,
        _ => tx.put_object(&map, a.name.as_str(), ObjType::Map)?,
    };
    tx.put(&entry, "blob", a.hash.to_reference())?;
    tx.put(&entry, "name", a.name.as_str())?;
    tx.put(&entry, "size", a.size)?;
    tx.put(&entry, "type", a.mime.as_str())?;
    tx.put(&entry, "added_at_ms", a.added_at_ms.unwrap_or(now_ms))?;
    Ok(())
}

/// Removes the attachment named `name`; false when there was none.
pub fn remove_attachment(tx: &mut Transaction<'_>, name: &str, now_ms: u64) -> Result<bool, SchemaError> {
    let Some((Value::Object(ObjType::Map), map)) = tx.get(ROOT, KEY_ATTACHMENTS)? else {
        return Ok(false);
    };
    if tx.get(&map, name)?.is_none() {
        return Ok(false);
    }
    touch(tx, now_ms)?;
    tx.delete(&map, name)?;
    Ok(true)
}

/// A MIME type for a file name, from its extension.
pub fn guess_mime(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ppm") => "image/x-portable-pixmap",
        Some("svg") => "image/svg+xml",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("md") => "text/markdown",
        Some("html" | "htm") => "text/html",
        Some("json") => "application/json",
        Some("mp3") => "audio/mpeg",
        Some("mp4") => "video/mp4",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync::automerge::{Automerge, ReadDoc};

    fn edit<R>(am: &mut Automerge, f: impl FnOnce(&mut Transaction<'_>) -> Result<R, SchemaError>) -> R {
        am.transact::<_, _, SchemaError>(f).expect("edit").result
    }

    fn hash(byte: u8) -> BlobHash {
        format!("{:02x}", byte).repeat(32).parse().expect("hash")
    }

    #[test]
    fn round_trip_keeps_unknown_fields() {
        // HS-DOC-4: fields written by a newer schema survive every edit of this one.
        let mut am = Automerge::new();
        edit(&mut am, |tx| {
            init(tx, "Trip", "pack bags", 10)?;
            tx.put(ROOT, "future_field", "kept")?;
            tx.put(ROOT, KEY_SCHEMA, 7u64)?;
            Ok(())
        });
        let a = Attachment {
            name: "photo.png".into(),
            hash: hash(1),
            size: 3,
            mime: guess_mime("photo.png").into(),
            added_at_ms: None,
        };
        edit(&mut am, |tx| add_attachment(tx, &a, 11));
        let map = match am.get(ROOT, KEY_ATTACHMENTS).expect("get") {
            Some((_, id)) => id,
            None => panic!("attachments missing"),
        };
        let entry = match am.get(&map, "photo.png").expect("get") {
            Some((_, id)) => id,
            None => panic!("entry missing"),
        };
        edit(&mut am, |tx| Ok(tx.put(&entry, "caption", "sunset")?));
        edit(&mut am, |tx| set_title(tx, "Trip 2", 12));
        edit(&mut am, |tx| splice_body(tx, 0, 4, "unpack", 13));
        edit(&mut am, |tx| add_attachment(tx, &a, 14));
        let bytes = am.save();
        let loaded = Automerge::load(&bytes).expect("load");
        let view = read(&loaded).expect("read");
        assert_eq!(view.title, "Trip 2");
        assert_eq!(view.body, "unpack bags");
        assert_eq!(view.schema_version, 7, "a newer version is never lowered");
        assert_eq!(view.created_at_ms, Some(10));
        assert_eq!(view.updated_at_ms, Some(14));
        assert_eq!(view.attachments.len(), 1);
        assert_eq!(view.attachments[0].mime, "image/png");
        assert_eq!(view.attachments[0].added_at_ms, Some(14));
        let future = loaded
            .get(ROOT, "future_field")
            .expect("get")
            .map(|(v, _)| v.to_string());
        assert_eq!(future.as_deref(), Some("\"kept\""));
        let caption = loaded
            .get(&entry, "caption")
            .expect("get")
            .map(|(v, _)| v.to_string());
        assert_eq!(caption.as_deref(), Some("\"sunset\""));
    }

    #[test]
    fn splices_are_bounded_and_merge() {
        let mut a = Automerge::new();
        edit(&mut a, |tx| init(tx, "t", "hello world", 1));
        let mut b = a.fork();
        edit(&mut a, |tx| splice_body(tx, 0, 0, "A: ", 2));
        edit(&mut b, |tx| append_body(tx, " (B)", 3));
        assert!(matches!(
            a.transact::<_, _, SchemaError>(|tx| splice_body(tx, 100, 0, "x", 4)),
            Err(f) if matches!(f.error, SchemaError::OutOfRange { pos: 100, .. })
        ));
        assert!(matches!(
            a.transact::<_, _, SchemaError>(|tx| splice_body(tx, 3, usize::MAX, "", 4)),
            Err(f) if matches!(f.error, SchemaError::OutOfRange { .. })
        ));
        a.merge(&mut b).expect("merge");
        assert_eq!(read(&a).expect("read").body, "A: hello world (B)");
    }

    #[test]
    fn missing_fields_read_as_empty_and_wrong_types_are_errors() {
        let empty = Automerge::new();
        let view = read(&empty).expect("read");
        assert_eq!(
            (view.schema_version, view.title.as_str(), view.body.as_str()),
            (0, "", "")
        );
        let mut bad = Automerge::new();
        edit(&mut bad, |tx| Ok(tx.put(ROOT, KEY_TITLE, 5u64)?));
        assert_eq!(read(&bad), Err(SchemaError::WrongType { key: "title".into() }));
        let mut bad_body = Automerge::new();
        edit(&mut bad_body, |tx| {
            Ok(tx.put_object(ROOT, KEY_BODY, ObjType::List).map(|_| ())?)
        });
        assert!(read(&bad_body).is_err());
    }

    #[test]
    fn names_and_sizes_are_checked() {
        assert!(check_name("a.png").is_ok());
        for bad in ["", "..", "a/b", "a\\b", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
        let mut am = Automerge::new();
        let long = "t".repeat(MAX_TITLE_BYTES + 1);
        assert!(
            am.transact::<_, _, SchemaError>(|tx| set_title(tx, &long, 1))
                .is_err()
        );
    }
}
