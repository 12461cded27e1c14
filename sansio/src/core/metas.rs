//! The index rows the core holds for every stored document (`Metas`), with the number of live
//! ones kept as rows change: a status poll then costs the same at 100,000 documents as at ten
//! (it counted every row per call, ~1 ms at 100,000, and apps poll status for their UI).

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use humansync_protocol::DocId;

use crate::DocMeta;

/// Index rows by document id, and how many are live (not tombstones).
#[derive(Debug, Default)]
pub(crate) struct Metas {
    rows: BTreeMap<DocId, DocMeta>,
    live: usize,
}

impl Metas {
    /// The rows given, built at once: the map's nodes are packed, where inserting ascending ids
    /// one by one leaves each about half full (~1.8x the rows' bytes, for as long as the core
    /// lives). A repeated id keeps its last row, as [`Metas::insert`] would.
    pub(crate) fn from_rows(rows: impl IntoIterator<Item = (DocId, DocMeta)>) -> Self {
        let rows: BTreeMap<DocId, DocMeta> = rows.into_iter().collect();
        let live = rows.values().filter(|m| !m.tombstone).count();
        Metas { rows, live }
    }

    /// The row of `doc`.
    pub(crate) fn get(&self, doc: &DocId) -> Option<&DocMeta> {
        self.rows.get(doc)
    }

    /// Whether `doc` has a row (live or tombstone).
    pub(crate) fn contains_key(&self, doc: &DocId) -> bool {
        self.rows.contains_key(doc)
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

    /// Rows with ids in `range`, in order.
    pub(crate) fn range<R>(&self, range: R) -> impl Iterator<Item = (&DocId, &DocMeta)>
    where
        R: RangeBounds<str>,
    {
        self.rows.range::<str, R>(range)
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
        let listed: Vec<&DocId> = metas.range(..).map(|(d, _)| d).collect();
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
        assert!(built.range(..).eq(inserted.range(..)));
    }
}
