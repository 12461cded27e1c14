//! What reconciliation found for one document, and the Items diff that finds it (HS-RECON-4).

use std::cmp::Ordering;

use humansync_protocol::{DocDigest, DocId, Item};

use super::set::{Digested, Entry};

/// What reconciliation found for one document; the caller (the sync engine)
/// performs it (HS-RECON-4). The side that receives an `Items` range emits
/// the actions for every document in that range, so each differing document
/// yields exactly one action on exactly one side.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReconAction {
    /// I hold it live, the peer lacks it: send DocWhole.
    SendWhole(DocId),
    /// I hold a tombstone, the peer lacks the id or holds it live: send DocDeleted.
    SendDeleted(DocId),
    /// The peer holds it live, I lack it: send DocWant.
    Want(DocId),
    /// The peer holds a tombstone, I lack the id: record the tombstone.
    RecordTombstone(DocId),
    /// The peer holds a tombstone, I hold it live: delete my copy (HS-DOC-5).
    DeleteLocal(DocId),
    /// Both hold it live with different digests: start Automerge sync (DocSync).
    Sync(DocId),
}

impl ReconAction {
    /// The document the action is about.
    pub fn doc(&self) -> &DocId {
        match self {
            ReconAction::SendWhole(d)
            | ReconAction::SendDeleted(d)
            | ReconAction::Want(d)
            | ReconAction::RecordTombstone(d)
            | ReconAction::DeleteLocal(d)
            | ReconAction::Sync(d) => d,
        }
    }
}

/// The action for one id given my and their digest, or None when nothing differs (HS-RECON-4).
fn action_for(doc: &DocId, mine: Option<DocDigest>, theirs: Option<DocDigest>) -> Option<ReconAction> {
    let doc = doc.clone();
    match (mine, theirs) {
        (None, None) => None,
        (Some(m), Some(t)) if m == t => None,
        (Some(m), None) if m.is_tombstone() => Some(ReconAction::SendDeleted(doc)),
        (Some(_), None) => Some(ReconAction::SendWhole(doc)),
        (None, Some(t)) if t.is_tombstone() => Some(ReconAction::RecordTombstone(doc)),
        (None, Some(_)) => Some(ReconAction::Want(doc)),
        (Some(_), Some(t)) if t.is_tombstone() => Some(ReconAction::DeleteLocal(doc)),
        (Some(m), Some(_)) if m.is_tombstone() => Some(ReconAction::SendDeleted(doc)),
        (Some(_), Some(_)) => Some(ReconAction::Sync(doc)),
    }
}

/// Compares my items in a range with the peer's (both strictly ascending by id)
/// and appends one action per differing document, in id order (HS-RECON-4).
pub(crate) fn diff<'a, V: Digested + 'a>(
    mine: impl Iterator<Item = (&'a DocId, &'a Entry<V>)>,
    theirs: &[Item],
    actions: &mut Vec<ReconAction>,
) {
    let mut mine = mine.peekable();
    let mut theirs = theirs.iter().peekable();
    loop {
        let order = match (mine.peek(), theirs.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((m, _)), Some(t)) => (*m).cmp(&t.doc),
        };
        // Less: only mine holds the smallest id; Greater: only theirs; Equal: both.
        let m = if order == Ordering::Greater {
            None
        } else {
            mine.next()
        };
        let t = if order == Ordering::Less {
            None
        } else {
            theirs.next()
        };
        let Some(doc) = m.map(|(doc, _)| doc).or(t.map(|t| &t.doc)) else {
            break;
        };
        actions.extend(action_for(doc, m.map(|(_, e)| e.digest()), t.map(|t| t.digest)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recon::DocSet;
    use humansync_protocol::Bound;

    fn id(s: &str) -> DocId {
        DocId::new(s).expect("valid test id")
    }

    #[test]
    fn every_case_of_hs_recon_4() {
        // HS-RECON-4: theirs-only → Want / RecordTombstone; mine-only → SendWhole / SendDeleted;
        // both differ → DeleteLocal (theirs tombstone) / SendDeleted (mine tombstone) / Sync.
        let live = |b: u8| DocDigest([b; 16]);
        let t = DocDigest::TOMBSTONE;
        let mine: DocSet = [
            ("a", live(1)),
            ("b", t),
            ("d", live(1)),
            ("e", live(1)),
            ("f", t),
            ("g", live(1)),
            ("h", t),
        ]
        .into_iter()
        .map(|(s, d)| (id(s), d))
        .collect();
        let theirs: Vec<Item> = [
            ("c", live(2)),
            ("c0", t),
            ("d", live(1)),
            ("e", t),
            ("f", live(3)),
            ("g", live(2)),
            ("h", t),
        ]
        .into_iter()
        .map(|(s, d)| Item {
            doc: id(s),
            digest: d,
        })
        .collect();
        let mut actions = Vec::new();
        diff(mine.range(b"", &Bound::End), &theirs, &mut actions);
        assert_eq!(
            actions,
            vec![
                ReconAction::SendWhole(id("a")),
                ReconAction::SendDeleted(id("b")),
                ReconAction::Want(id("c")),
                ReconAction::RecordTombstone(id("c0")),
                ReconAction::DeleteLocal(id("e")),
                ReconAction::SendDeleted(id("f")),
                ReconAction::Sync(id("g")),
            ]
        );
    }
}
