//! What the devices acknowledged: the reference the invariants are checked against.
//!
//! Bodies are made of unique markers (`[d1.17]`), inserted whole at marker boundaries, so a
//! marker is either present as written or absent; Automerge keeps a concurrently inserted run
//! of characters together, so no edit can split another's marker. A write is *acknowledged*
//! when the app answered it with success; a request without an answer (the app was killed, the
//! socket timed out) is *unknown*: either outcome is allowed, but all devices must agree.

use std::collections::BTreeMap;

/// How a write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Acknowledged at this soak time (ms).
    At(u64),
    /// No answer: may or may not have happened.
    Unknown,
}

/// A document.
#[derive(Debug, Clone)]
pub struct DocModel {
    /// The device that created it.
    pub created_by: String,
    /// Its creation.
    pub created: Ack,
    /// Its deletion, if requested (acknowledged or unknown).
    pub deleted: Option<Ack>,
    /// Deletions sent and not answered yet.
    pub delete_pending: u32,
    /// The device that deleted it.
    pub deleted_by: Option<String>,
}

/// One marker written into a body.
#[derive(Debug, Clone)]
pub struct Marker {
    /// The document.
    pub doc: String,
    /// The device that wrote it.
    pub device: String,
    /// The write.
    pub written: Ack,
    /// Its removal, if requested.
    pub deleted: Option<Ack>,
    /// Removals sent and not answered yet.
    pub delete_pending: u32,
    /// The device whose removal was acknowledged or unknown.
    pub deleted_by: Option<String>,
}

/// One attachment.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// Blob hash (hex).
    pub hash: String,
    /// Bytes.
    pub size: u64,
    /// The device that attached it.
    pub device: String,
    /// The attach.
    pub added: Ack,
    /// Its removal, if requested.
    pub detached: Option<Ack>,
    /// Removals sent and not answered yet.
    pub detach_pending: u32,
}

/// The reference model.
#[derive(Debug, Default)]
pub struct Model {
    /// Documents by full id.
    pub docs: BTreeMap<String, DocModel>,
    /// Markers by text.
    pub markers: BTreeMap<String, Marker>,
    /// Attachments by (document, name).
    pub attachments: BTreeMap<(String, String), Attachment>,
    /// Devices revoked: whether their writes and deletions reached anyone before the
    /// revocation is unknowable, so they are neither required nor forbidden anywhere.
    pub untrusted: std::collections::BTreeSet<String>,
}

impl Model {
    /// The document is gone for good (an acknowledged deletion).
    pub fn doc_deleted(&self, doc: &str) -> bool {
        self.docs.get(doc).is_some_and(|d| {
            matches!(d.deleted, Some(Ack::At(_)))
                && !d
                    .deleted_by
                    .as_ref()
                    .is_some_and(|by| self.untrusted.contains(by))
        })
    }

    /// The document may be deleted (acknowledged, unknown or in flight).
    pub fn doc_maybe_deleted(&self, doc: &str) -> bool {
        self.docs
            .get(doc)
            .is_some_and(|d| d.deleted.is_some() || d.delete_pending > 0)
    }

    /// Every registered device must hold this marker once converged.
    pub fn marker_required(&self, m: &Marker) -> bool {
        matches!(m.written, Ack::At(_))
            && !self.untrusted.contains(&m.device)
            && m.deleted.is_none()
            && m.delete_pending == 0
            && !self.doc_maybe_deleted(&m.doc)
    }

    /// No device may hold this marker once converged (its removal was acknowledged).
    pub fn marker_forbidden(&self, m: &Marker) -> bool {
        matches!(m.deleted, Some(Ack::At(_)))
            && !m
                .deleted_by
                .as_ref()
                .is_some_and(|by| self.untrusted.contains(by))
    }

    /// Every registered device must list this attachment once converged.
    pub fn attachment_required(&self, doc: &str, a: &Attachment) -> bool {
        matches!(a.added, Ack::At(_))
            && !self.untrusted.contains(&a.device)
            && a.detached.is_none()
            && a.detach_pending == 0
            && !self.doc_maybe_deleted(doc)
    }

    /// Markers `device` wrote and had acknowledged before `before_ms` that every peer which
    /// reported itself up to date with it must hold (newest first, at most `limit`).
    pub fn acked_by(&self, device: &str, before_ms: u64, limit: usize) -> Vec<(&str, &Marker)> {
        let mut out: Vec<(&str, &Marker)> = self
            .markers
            .iter()
            .filter(|(_, m)| m.device == device && matches!(m.written, Ack::At(t) if t < before_ms))
            .filter(|(_, m)| self.marker_required(m))
            .map(|(k, m)| (k.as_str(), m))
            .collect();
        out.sort_by_key(|(_, m)| {
            std::cmp::Reverse(match m.written {
                Ack::At(t) => t,
                Ack::Unknown => 0,
            })
        });
        out.truncate(limit);
        out
    }
}

/// The markers in a body, in order, with their character positions.
pub fn markers_in(body: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '['
            && let Some(len) = chars[i..].iter().position(|c| *c == ']')
        {
            out.push((i, chars[i..=i + len].iter().collect()));
            i += len + 1;
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_with_char_positions() {
        assert_eq!(
            markers_in("[d1.1]é[d2.7][d3.10]"),
            vec![(0, "[d1.1]".into()), (7, "[d2.7]".into()), (13, "[d3.10]".into())]
        );
        assert!(markers_in("no markers [unclosed").is_empty());
    }

    #[test]
    fn a_marker_in_a_document_maybe_deleted_is_not_required() {
        let mut m = Model::default();
        m.docs.insert(
            "doc".into(),
            DocModel {
                created_by: "d1".into(),
                created: Ack::At(1),
                deleted: None,
                delete_pending: 1,
                deleted_by: None,
            },
        );
        let marker = Marker {
            doc: "doc".into(),
            device: "d1".into(),
            written: Ack::At(2),
            deleted: None,
            delete_pending: 0,
            deleted_by: None,
        };
        assert!(!m.marker_required(&marker));
        if let Some(d) = m.docs.get_mut("doc") {
            d.delete_pending = 0;
        }
        assert!(m.marker_required(&marker));
        assert!(
            m.acked_by("d1", 2, 10).is_empty(),
            "acknowledged at 2 is not before 2"
        );
    }
}
