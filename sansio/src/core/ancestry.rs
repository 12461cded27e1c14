//! Recognising which earlier state of a document a peer holds from its digest alone (HS-SYNC-11).
//!
//! Reconciliation tells a node the peer's digest of a document that differs (HS-RECON-4). When
//! the peer is simply behind — the common case after being away — its heads are heads this node
//! has been at. Finding them lets the first Automerge sync message carry the missing changes
//! at once instead of spending a round trip discovering what the peer holds.

use automerge::{Automerge, ChangeHash as AmHash};
use humansync_protocol::digest::heads_digest;
use humansync_protocol::{ChangeHash, DocDigest};

/// How many of the document's most recent changes are tried as the point the peer stopped at.
/// Each try costs one BLAKE3 over a few hashes; the walk stops at the first match.
pub(crate) const ANCESTOR_CANDIDATES: usize = 64;

/// Heads this document has been at whose digest is `theirs`: first `shared` (the heads last
/// shared with the peer), then, walking back from the current heads over at most
/// [`ANCESTOR_CANDIDATES`] changes, the heads just before each change (its own heads with that
/// change replaced by the change's dependencies) and the change alone. None if none matches.
pub(crate) fn heads_with_digest(
    am: &Automerge,
    shared: &[AmHash],
    theirs: DocDigest,
) -> Option<Vec<ChangeHash>> {
    let matches = |heads: &[AmHash]| {
        let heads: Vec<ChangeHash> = heads.iter().map(|h| ChangeHash(h.0)).collect();
        (heads_digest(&heads) == theirs).then_some(heads)
    };
    if !shared.is_empty()
        && let Some(found) = matches(shared)
    {
        return Some(found);
    }
    let mut frontier: Vec<AmHash> = am.get_heads();
    let mut seen = std::collections::BTreeSet::new();
    let mut queue: std::collections::VecDeque<AmHash> = frontier.iter().copied().collect();
    let mut tried = 0;
    while let Some(hash) = queue.pop_front() {
        if tried == ANCESTOR_CANDIDATES {
            break;
        }
        if !seen.insert(hash) {
            continue;
        }
        tried += 1;
        // Metadata only: building a whole `Change` would re-encode its operations.
        let Some(meta) = am.get_change_meta_by_hash(&hash) else {
            continue;
        };
        let deps = meta.deps;
        // The peer stopped just before this change: the frontier with it replaced by its deps.
        let mut before: Vec<AmHash> = frontier.iter().copied().filter(|h| *h != hash).collect();
        before.extend(deps.iter().copied());
        before.sort_unstable();
        before.dedup();
        if let Some(found) = matches(&before) {
            return Some(found);
        }
        // The peer stopped right at this change (a linear history behind a concurrent branch).
        if let Some(found) = matches(&[hash]) {
            return Some(found);
        }
        if frontier.contains(&hash) {
            frontier = before;
        }
        queue.extend(deps.iter().copied());
    }
    None
}

/// Whether heads `theirs` (a peer's) cover `sent`: every hash of `sent` is one of them or one of
/// their ancestors, as far as this document shows (heads it does not hold count for nothing).
pub(crate) fn covers(am: &Automerge, theirs: &[AmHash], sent: &[ChangeHash]) -> bool {
    let known: Vec<AmHash> = theirs
        .iter()
        .copied()
        .filter(|h| am.get_change_meta_by_hash(h).is_some())
        .collect();
    if sent.iter().all(|h| known.contains(&AmHash(h.0))) {
        return true;
    }
    if known.is_empty() {
        return false;
    }
    // The changes that are not ancestors of `known`: usually few (what the peer lacks).
    let after: std::collections::BTreeSet<AmHash> =
        am.get_changes_meta(&known).into_iter().map(|c| c.hash).collect();
    sent.iter().all(|h| {
        let h = AmHash(h.0);
        !after.contains(&h) && am.get_change_meta_by_hash(&h).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn edit(am: &mut Automerge, value: i64) {
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, "v", value)?;
            Ok(())
        })
        .expect("edit");
    }

    fn digest(am: &Automerge) -> DocDigest {
        let heads: Vec<ChangeHash> = am.get_heads().iter().map(|h| ChangeHash(h.0)).collect();
        heads_digest(&heads)
    }

    #[test]
    fn a_peer_some_changes_behind_is_recognised() {
        // HS-SYNC-11
        let mut am = Automerge::new();
        edit(&mut am, 0);
        let mut behind = Vec::new();
        for i in 1..10 {
            behind.push((am.get_heads(), digest(&am)));
            edit(&mut am, i);
        }
        for (heads, d) in behind {
            let found = heads_with_digest(&am, &[], d).expect("an earlier state is found");
            let want: Vec<ChangeHash> = heads.iter().map(|h| ChangeHash(h.0)).collect();
            assert_eq!(found, want);
        }
    }

    #[test]
    fn a_peer_behind_a_merge_is_recognised() {
        // HS-SYNC-11: two concurrent changes merged here; the peer holds one branch only.
        let mut a = Automerge::new().with_actor(automerge::ActorId::from(vec![1]));
        edit(&mut a, 0);
        let mut b = a.fork().with_actor(automerge::ActorId::from(vec![2]));
        edit(&mut a, 1);
        edit(&mut b, 2);
        let peer = digest(&a);
        a.merge(&mut b).expect("merge");
        assert!(heads_with_digest(&a, &[], peer).is_some());
    }

    #[test]
    fn a_peer_with_changes_of_its_own_is_not_matched() {
        // HS-SYNC-11: only states this node has been at can match.
        let mut am = Automerge::new();
        edit(&mut am, 0);
        let mut peer = am.fork();
        edit(&mut peer, 1);
        edit(&mut am, 2);
        assert_eq!(heads_with_digest(&am, &[], digest(&peer)), None);
    }

    #[test]
    fn shared_heads_are_tried_first() {
        let mut am = Automerge::new();
        edit(&mut am, 0);
        let old = am.get_heads();
        let d = digest(&am);
        for i in 1..(ANCESTOR_CANDIDATES as i64 + 10) {
            edit(&mut am, i);
        }
        // Too far back for the walk, but the remembered shared heads match.
        assert_eq!(heads_with_digest(&am, &[], d), None);
        assert!(heads_with_digest(&am, &old, d).is_some());
    }
}
