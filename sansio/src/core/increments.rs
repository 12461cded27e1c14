//! The change bytes this node saved, kept so that a resume is answered from them without
//! loading the documents (issue 22 §1, HS-RESUME-3).
//!
//! Every save of a loaded document computes the changes since the previous save
//! (`save_after`, save.rs) — appended as an increment, or found too large and replaced by a whole
//! save. Those bytes, with the heads before and after them, are kept here in bounded memory:
//! the changes after a document's base (the heads a peer holds) are then the increments chained
//! from the base to the current heads, sent as they are. Only bytes Automerge produced from a
//! parsed document are kept — never a peer's bytes appended unparsed, which must be loaded once
//! before they are forwarded (HS-SYNC-12); a chain that does not reach falls back to a load.

use std::collections::{BTreeMap, VecDeque};

use humansync_protocol::{ChangeHash, DocId};

/// Most increments kept per document (the oldest go first).
const MAX_PER_DOC: usize = 32;
/// Most bytes kept in all (the document with the oldest increment loses it first).
const MAX_BYTES: usize = 8 << 20;

/// One saved increment: the changes that took a document from `from` to `to` (sorted heads).
#[derive(Debug)]
struct Increment {
    from: Vec<ChangeHash>,
    to: Vec<ChangeHash>,
    bytes: Vec<u8>,
    /// Order of recording, for eviction.
    serial: u64,
}

/// Saved increments by document, bounded.
#[derive(Debug, Default)]
pub(crate) struct Increments {
    docs: BTreeMap<DocId, VecDeque<Increment>>,
    /// (serial, document) of every kept increment, oldest first.
    order: VecDeque<(u64, DocId)>,
    bytes: usize,
    /// Increments kept.
    kept: usize,
    next: u64,
}

impl Increments {
    /// Records that `bytes` (Automerge change chunks from a parsed document) took `doc` from
    /// `from` to `to`.
    pub(crate) fn record(&mut self, doc: &DocId, from: &[ChangeHash], to: &[ChangeHash], bytes: &[u8]) {
        if bytes.is_empty() || from.is_empty() || bytes.len() > MAX_BYTES / 8 {
            return;
        }
        let serial = self.next;
        self.next += 1;
        let list = self.docs.entry(doc.clone()).or_default();
        list.push_back(Increment {
            from: from.to_vec(),
            to: to.to_vec(),
            bytes: bytes.to_vec(),
            serial,
        });
        self.bytes += bytes.len();
        self.kept += 1;
        self.order.push_back((serial, doc.clone()));
        if list.len() > MAX_PER_DOC
            && let Some(old) = list.pop_front()
        {
            self.bytes -= old.bytes.len();
            self.kept -= 1;
        }
        while self.bytes > MAX_BYTES {
            let Some((serial, doc)) = self.order.pop_front() else {
                break;
            };
            self.drop_one(&doc, serial);
        }
        // `order` keeps entries of increments already dropped per document (skipped when
        // popped): trimmed once they outnumber what is kept.
        if self.order.len() > 2 * self.kept + 1024 {
            let docs = &self.docs;
            self.order.retain(|(serial, doc)| {
                docs.get(doc)
                    .is_some_and(|l| l.iter().any(|i| i.serial == *serial))
            });
        }
    }

    fn drop_one(&mut self, doc: &DocId, serial: u64) {
        let Some(list) = self.docs.get_mut(doc) else {
            return;
        };
        if let Some(pos) = list.iter().position(|i| i.serial == serial)
            && let Some(old) = list.remove(pos)
        {
            self.bytes -= old.bytes.len();
            self.kept -= 1;
        }
        if list.is_empty() {
            self.docs.remove(doc);
        }
    }

    /// The changes that take `doc` from `after` to `heads`, when kept increments chain from one to
    /// the other; at most `limit` bytes.
    pub(crate) fn changes_between(
        &self,
        doc: &DocId,
        after: &[ChangeHash],
        heads: &[ChangeHash],
        limit: usize,
    ) -> Option<Vec<u8>> {
        let list = self.docs.get(doc)?;
        let mut at = list.iter().position(|i| i.from == after)?;
        let mut out = Vec::new();
        loop {
            let inc = &list[at];
            if out.len() + inc.bytes.len() > limit {
                return None;
            }
            out.extend_from_slice(&inc.bytes);
            if inc.to == heads {
                return Some(out);
            }
            // The next increment starts where this one ended (saves are in order).
            at += 1;
            if list.get(at)?.from != inc.to {
                return None;
            }
        }
    }

    /// `doc` was deleted or lost: nothing of it is served from here.
    pub(crate) fn forget(&mut self, doc: &DocId) {
        if let Some(list) = self.docs.remove(doc) {
            self.bytes -= list.iter().map(|i| i.bytes.len()).sum::<usize>();
            self.kept -= list.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> Vec<ChangeHash> {
        vec![ChangeHash([b; 32])]
    }

    #[test]
    fn increments_chain_from_a_base_to_the_heads() {
        let doc = DocId::new("notes/a").unwrap();
        let mut inc = Increments::default();
        inc.record(&doc, &h(1), &h(2), b"ab");
        inc.record(&doc, &h(2), &h(3), b"cd");
        assert_eq!(
            inc.changes_between(&doc, &h(1), &h(3), 100),
            Some(b"abcd".to_vec())
        );
        assert_eq!(inc.changes_between(&doc, &h(2), &h(3), 100), Some(b"cd".to_vec()));
        assert_eq!(inc.changes_between(&doc, &h(1), &h(3), 3), None, "over the limit");
        assert_eq!(inc.changes_between(&doc, &h(9), &h(3), 100), None, "unknown base");
        assert_eq!(inc.changes_between(&doc, &h(1), &h(4), 100), None, "heads beyond");
        inc.forget(&doc);
        assert_eq!(inc.changes_between(&doc, &h(1), &h(2), 100), None);
        assert_eq!(inc.bytes, 0);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut inc = Increments::default();
        let chunk = vec![0u8; 64 << 10];
        for i in 0..1000u32 {
            let doc = DocId::new(format!("notes/{i}")).unwrap();
            inc.record(&doc, &h(1), &h(2), &chunk);
        }
        assert!(inc.bytes <= MAX_BYTES);
        assert!(inc.order.len() <= 1000);
    }
}
