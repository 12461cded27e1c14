//! The index rows the core holds for every stored document (`Metas`): one map that is both the
//! index and the reconciliation set (HS-RECON-1), with the number of live rows kept as rows
//! change: a status poll then costs the same at 100,000 documents as at ten (it counted every
//! row per call, ~1 ms at 100,000, and apps poll status for their UI).
//!
//! The set's digest of a row is derived from the row (its heads' digest, or the tombstone
//! digest), not stored: one map keyed once per document is ~32 bytes per document less than an
//! index beside a set of digests (issue 22 §2: an idle server holds a row per document).

use humansync_protocol::digest::heads_digest;
use humansync_protocol::{DocDigest, DocId, SetSummary};

use crate::DocMeta;
use crate::recon::{Digested, DocSet};

/// The digest the reconciliation set holds for an index row (HS-RECON-1).
impl Digested for DocMeta {
    fn digest(&self) -> DocDigest {
        if self.tombstone {
            DocDigest::TOMBSTONE
        } else {
            heads_digest(&self.heads)
        }
    }
}

/// Index rows by document id (the reconciliation set), and how many are live (not tombstones).
#[derive(Debug, Default)]
pub(crate) struct Metas {
    rows: DocSet<DocMeta>,
    live: usize,
}

impl Metas {
    /// The rows given, built at once: the map's nodes are packed, where inserting ascending ids
    /// one by one leaves each about half full (~1.8x the rows' bytes, for as long as the core
    /// lives). A repeated id keeps its last row, as [`Metas::insert`] would.
    pub(crate) fn from_rows(rows: impl IntoIterator<Item = (DocId, DocMeta)>) -> Self {
        let rows: DocSet<DocMeta> = rows.into_iter().collect();
        let live = rows.values_from(b"").filter(|(_, m)| !m.tombstone).count();
        Metas { rows, live }
    }

    /// The row of `doc`.
    pub(crate) fn get(&self, doc: &DocId) -> Option<&DocMeta> {
        self.rows.value(doc)
    }

    /// The digest of `doc`'s row, as the reconciliation set holds it.
    pub(crate) fn digest(&self, doc: &DocId) -> Option<DocDigest> {
        self.rows.get(doc)
    }

    /// Whether `doc` has a row (live or tombstone).
    pub(crate) fn contains_key(&self, doc: &DocId) -> bool {
        self.rows.value(doc).is_some()
    }

    /// Sets the row of `doc`; returns the row it replaces.
    pub(crate) fn insert(&mut self, doc: DocId, meta: DocMeta) -> Option<DocMeta> {
        self.live += usize::from(!meta.tombstone);
        let old = self.rows.insert(doc, meta);
        self.forget(old)
    }

    /// Removes the row of `doc`; returns it.
    pub(crate) fn remove(&mut self, doc: &DocId) -> Option<DocMeta> {
        let old = self.rows.remove(doc);
        self.forget(old)
    }

    /// Rows with ids at or above `lower`, in order.
    pub(crate) fn from<'a>(&'a self, lower: &'a str) -> impl Iterator<Item = (&'a DocId, &'a DocMeta)> + 'a {
        self.rows.values_from(lower.as_bytes())
    }

    /// The rows as the reconciliation set (HS-RECON-1).
    pub(crate) fn set(&self) -> &DocSet<DocMeta> {
        &self.rows
    }

    /// The whole set's summary, as Hello and Welcome carry it (HS-RECON-1).
    pub(crate) fn summary(&self) -> SetSummary {
        self.rows.summary()
    }

    /// How many rows are live documents.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Takes a row that left the map out of the live count.
    fn forget(&mut self, old: Option<DocMeta>) -> Option<DocMeta> {
        if old.as_ref().is_some_and(|m| !m.tombstone) {
            self.live -= 1;
        }
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(tombstone: bool) -> DocMeta {
        DocMeta {
            heads: crate::Heads::new(),
            blobs: Box::default(),
            tombstone,
        }
    }

    fn id(s: &str) -> DocId {
        DocId::new(s.to_owned()).expect("valid id")
    }

    #[test]
    fn the_live_count_follows_inserts_replacements_and_removals() {
        let mut metas = Metas::default();
        metas.insert(id("notes/a"), meta(false));
        metas.insert(id("notes/b"), meta(false));
        metas.insert(id("notes/c"), meta(true));
        assert_eq!(metas.live(), 2);
        // Live → tombstone, tombstone → live, live → live.
        metas.insert(id("notes/a"), meta(true));
        metas.insert(id("notes/c"), meta(false));
        metas.insert(id("notes/b"), meta(false));
        assert_eq!(metas.live(), 2);
        metas.remove(&id("notes/b"));
        metas.remove(&id("notes/a"));
        metas.remove(&id("notes/missing"));
        assert_eq!(metas.live(), 1);
        let listed: Vec<&DocId> = metas.from("").map(|(d, _)| d).collect();
        assert_eq!(listed, [&id("notes/c")]);
    }

    #[test]
    fn rows_built_at_once_count_as_inserted_ones() {
        let rows = [
            ("notes/b", false),
            ("notes/a", true),
            ("notes/b", true),
            ("notes/c", false),
        ];
        let built = Metas::from_rows(rows.iter().map(|(d, t)| (id(d), meta(*t))));
        let mut inserted = Metas::default();
        for (d, t) in rows {
            inserted.insert(id(d), meta(t));
        }
        assert_eq!(built.live(), inserted.live());
        assert_eq!(built.live(), 1);
        assert!(built.from("").eq(inserted.from("")));
        assert_eq!(built.summary(), inserted.summary());
    }

    #[test]
    fn the_rows_summarise_as_a_set_of_their_digests() {
        // HS-RECON-1: keeping rows instead of digests changes nothing a peer sees.
        let one = humansync_protocol::ChangeHash([1; 32]);
        let two = humansync_protocol::ChangeHash([2; 32]);
        let row = |heads: &[humansync_protocol::ChangeHash], tombstone| DocMeta {
            heads: heads.iter().copied().collect(),
            blobs: Box::default(),
            tombstone,
        };
        let rows = [
            (id("notes/a"), row(&[one], false)),
            (id("notes/b"), row(&[one, two], false)),
            (id("notes/c"), row(&[], true)),
        ];
        let metas = Metas::from_rows(rows.clone());
        let digests: DocSet = [
            (id("notes/a"), heads_digest(&[one])),
            (id("notes/b"), heads_digest(&[two, one])),
            (id("notes/c"), DocDigest::TOMBSTONE),
        ]
        .into_iter()
        .collect();
        assert_eq!(metas.summary(), digests.summary());
        let upper = humansync_protocol::Bound::End;
        assert_eq!(
            metas.set().range_summary(b"notes/b", &upper),
            digests.range_summary(b"notes/b", &upper)
        );
        for (doc, _) in &rows {
            assert_eq!(metas.digest(doc), digests.get(doc));
        }
    }
}
