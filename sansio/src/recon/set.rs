//! The local document set: id → a value with a digest, with an incrementally kept whole-set
//! summary.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::Bound as StdBound;

use humansync_protocol::digest::item_fingerprint;
use humansync_protocol::{Bound, DocDigest, DocId, Fingerprint, SetSummary};

/// A map key that orders exactly like its bytes, so ranges can be looked up by
/// arbitrary byte bounds (HS-RECON-2: bounds need not be valid ids).
///
/// `DocId` orders as its `String`, which orders bytewise, so `Borrow<[u8]>`
/// is consistent with `Ord` as `BTreeMap` requires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key(DocId);

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.0.as_str().as_bytes()
    }
}

/// What a [`DocSet`] keeps per document: a value its digest is derived from. A plain set keeps
/// the digest itself; the core keeps its whole index row ([`crate::DocMeta`]), so that one map
/// serves both reconciliation and the index (issue 22 §2: two maps cost ~32 bytes more per
/// document, for as long as a node runs).
pub trait Digested {
    /// The document's digest (HS-RECON-1): its heads' digest, or [`DocDigest::TOMBSTONE`].
    fn digest(&self) -> DocDigest;
}

impl Digested for DocDigest {
    fn digest(&self) -> DocDigest {
        *self
    }
}

/// One stored document: its value and its cached item fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<V> {
    /// What the set keeps for the document.
    pub(crate) value: V,
    /// `item_fingerprint(id, value.digest())`.
    pub(crate) fingerprint: Fingerprint,
}

impl<V: Digested> Entry<V> {
    fn new(doc: &DocId, value: V) -> Self {
        let fingerprint = item_fingerprint(doc, &value.digest());
        Entry { value, fingerprint }
    }

    /// The document's digest.
    pub(crate) fn digest(&self) -> DocDigest {
        self.value.digest()
    }
}

/// The local document set: id → a value with a digest (live or [`DocDigest::TOMBSTONE`]), with
/// an O(1) whole-set summary for Hello / Welcome (HS-RECON-1).
///
/// Iteration is in bytewise id order, the order reconciliation ranges use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSet<V = DocDigest> {
    items: BTreeMap<Key, Entry<V>>,
    /// XOR of every item fingerprint, kept up to date by `insert` / `remove`.
    total: Fingerprint,
}

impl<V> Default for DocSet<V> {
    fn default() -> Self {
        DocSet {
            items: BTreeMap::new(),
            total: Fingerprint::EMPTY,
        }
    }
}

impl DocSet {
    /// An empty set of digests (a set of other values starts as `DocSet::default()`).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<V: Digested> DocSet<V> {
    /// Sets `doc`'s value, returning the previous one. The summary is updated incrementally (the
    /// old item fingerprint XORed out, the new one in).
    pub fn insert(&mut self, doc: DocId, value: V) -> Option<V> {
        let entry = Entry::new(&doc, value);
        self.total.xor(&entry.fingerprint);
        let old = self.items.insert(Key(doc), entry)?;
        self.total.xor(&old.fingerprint);
        Some(old.value)
    }

    /// Removes `doc`, returning its value.
    pub fn remove(&mut self, doc: &DocId) -> Option<V> {
        let old = self.items.remove(doc.as_str().as_bytes())?;
        self.total.xor(&old.fingerprint);
        Some(old.value)
    }

    /// `doc`'s digest, if the set holds it.
    pub fn get(&self, doc: &DocId) -> Option<DocDigest> {
        self.value(doc).map(V::digest)
    }

    /// `doc`'s value, if the set holds it.
    pub fn value(&self, doc: &DocId) -> Option<&V> {
        self.items.get(doc.as_str().as_bytes()).map(|e| &e.value)
    }

    /// Number of documents, live and tombstoned.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the set holds no document.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Count and XOR of all item fingerprints, for Hello / Welcome (HS-RECON-1).
    pub fn summary(&self) -> SetSummary {
        SetSummary {
            count: count_u32(self.items.len()),
            fingerprint: self.total,
        }
    }

    /// Every (id, digest) in bytewise id order.
    pub fn iter(&self) -> impl Iterator<Item = (&DocId, DocDigest)> {
        self.items.iter().map(|(k, e)| (&k.0, e.digest()))
    }

    /// Every (id, value) with an id at or above `lower` (bytewise), in order.
    pub fn values_from<'a>(&'a self, lower: &'a [u8]) -> impl Iterator<Item = (&'a DocId, &'a V)> + 'a {
        self.range(lower, &Bound::End).map(|(doc, e)| (doc, &e.value))
    }

    /// Count and fingerprint of the items with `lower <= id < upper` (bytewise).
    /// An empty or inverted range yields `(0, Fingerprint::EMPTY)`.
    pub fn range_summary(&self, lower: &[u8], upper: &Bound) -> (u32, Fingerprint) {
        let mut count = 0usize;
        let mut fingerprint = Fingerprint::EMPTY;
        for (_, entry) in self.range(lower, upper) {
            count += 1;
            fingerprint.xor(&entry.fingerprint);
        }
        (count_u32(count), fingerprint)
    }

    /// The entries with `lower <= id < upper`, ascending; empty if `lower >= upper`.
    pub(crate) fn range<'a>(
        &'a self,
        lower: &'a [u8],
        upper: &'a Bound,
    ) -> impl Iterator<Item = (&'a DocId, &'a Entry<V>)> + 'a {
        let end = match upper {
            // `BTreeMap::range` panics on an inverted range; collapse it to the empty `[lower, lower)`.
            Bound::Key(key) if key.as_slice() <= lower => StdBound::Excluded(lower),
            Bound::Key(key) => StdBound::Excluded(key.as_slice()),
            Bound::End => StdBound::Unbounded,
        };
        self.items
            .range::<[u8], _>((StdBound::Included(lower), end))
            .map(|(k, e)| (&k.0, e))
    }
}

/// A count as the wire's `u32`, saturating (a set of 2^32 documents is not a real case).
pub(crate) fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Built from all items at once: the map's nodes are packed, where inserting ascending ids one
/// by one leaves each about half full (~1.8x the bytes, for as long as the set lives). A repeated
/// id keeps its last value, as [`DocSet::insert`] would.
impl<V: Digested> FromIterator<(DocId, V)> for DocSet<V> {
    fn from_iter<I: IntoIterator<Item = (DocId, V)>>(iter: I) -> Self {
        let items: BTreeMap<Key, Entry<V>> = iter
            .into_iter()
            .map(|(doc, value)| {
                let entry = Entry::new(&doc, value);
                (Key(doc), entry)
            })
            .collect();
        let mut total = Fingerprint::EMPTY;
        for entry in items.values() {
            total.xor(&entry.fingerprint);
        }
        DocSet { items, total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DocId {
        DocId::new(s).expect("valid test id")
    }

    fn key(s: &str) -> Bound {
        Bound::Key(s.as_bytes().to_vec())
    }

    #[test]
    fn summary_is_incremental_and_order_independent() {
        // HS-RECON-1: the summary is the XOR of item fingerprints, whatever the insertion history.
        let mut a = DocSet::new();
        a.insert(id("x"), DocDigest([1; 16]));
        a.insert(id("y"), DocDigest([2; 16]));
        a.insert(id("x"), DocDigest([3; 16]));
        a.insert(id("z"), DocDigest::TOMBSTONE);
        assert_eq!(a.remove(&id("z")), Some(DocDigest::TOMBSTONE));
        let b: DocSet = [(id("y"), DocDigest([2; 16])), (id("x"), DocDigest([3; 16]))]
            .into_iter()
            .collect();
        assert_eq!(a.summary(), b.summary());
        assert_eq!(a.summary().count, 2);
        let mut fp = item_fingerprint(&id("x"), &DocDigest([3; 16]));
        fp.xor(&item_fingerprint(&id("y"), &DocDigest([2; 16])));
        assert_eq!(a.summary().fingerprint, fp);
        a.remove(&id("x"));
        a.remove(&id("y"));
        assert_eq!(
            a.summary(),
            SetSummary {
                count: 0,
                fingerprint: Fingerprint::EMPTY
            }
        );
    }

    #[test]
    fn range_summary_is_half_open_and_bytewise() {
        let set: DocSet = ["a", "ab", "b", "b0", "c"]
            .iter()
            .map(|s| (id(s), DocDigest([7; 16])))
            .collect();
        assert_eq!(set.range_summary(b"", &Bound::End).0, 5);
        assert_eq!(set.range_summary(b"a", &key("b")).0, 2);
        assert_eq!(set.range_summary(b"ab", &key("b0")).0, 2);
        assert_eq!(set.range_summary(b"b", &key("b")), (0, Fingerprint::EMPTY));
        assert_eq!(set.range_summary(b"c", &key("a")), (0, Fingerprint::EMPTY));
        assert_eq!(set.range_summary(&[0xff], &Bound::End), (0, Fingerprint::EMPTY));
        let (_, whole) = set.range_summary(b"", &Bound::End);
        assert_eq!(whole, set.summary().fingerprint);
    }
}
