//! Where a merge interleaved concurrent edits: for a merged version, each line of the body is
//! attributed to the concurrent branches whose changes typed its characters, so the history can
//! show which lines came from which device's offline work and where they were woven together.
//!
//! A merge joins *parents* (the heads of two or more branches). A change belongs to branch `i`
//! when it is an ancestor of parent `i` (or parent `i` itself) and of no other parent; text the
//! branches shared before they split, and text typed after the merge, belongs to none. Every
//! character of an Automerge Text is one insert operation, and an operation id names its change
//! (actor and counter), so the attribution is exact, not a diff.

use std::collections::{BTreeMap, HashSet};

use humansync::automerge::{
    Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValueRef, Value as AmValue, ValueRef,
};
use serde::Serialize;

use crate::schema::{self, SchemaError};

/// Most parents a merge view considers (a merge of more branches lists the first ones).
pub const MAX_BRANCHES: usize = 8;

/// One concurrent branch of a merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Branch {
    /// The branch's head (hex).
    pub head: String,
    /// Hex of the first 16 bytes of each device that made changes only on this branch.
    pub devices: Vec<String>,
    /// Changes only on this branch.
    pub changes: usize,
}

/// One line of the merged body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Line {
    /// The line's text, without its newline.
    pub text: String,
    /// Indexes into [`Interleaving::branches`] of the branches that typed any of its characters
    /// (empty: text from before the branches split, or typed after the merge).
    pub branches: Vec<usize>,
    /// The line in runs of characters with one origin, in order (their texts make `text`).
    pub spans: Vec<Span>,
}

/// A run of characters of a line typed on one branch, or on none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    /// The characters.
    pub text: String,
    /// The branch that typed them ([`Interleaving::branches`]), if any.
    pub branch: Option<usize>,
}

/// The body at a merged version, line by line, attributed to the merge's branches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interleaving {
    /// The branches joined, in the order of the parents given.
    pub branches: Vec<Branch>,
    /// The body's lines at the version.
    pub lines: Vec<Line>,
}

/// The heads among `deps` that are not an ancestor of another: the branches a change with these
/// dependencies really joins. Automerge lists the author's own previous change among a change's
/// dependencies even when another dependency already descends from it, so `deps.len() > 1` alone
/// does not make a merge.
pub fn independent(am: &Automerge, deps: &[ChangeHash]) -> Vec<ChangeHash> {
    if deps.len() < 2 {
        return deps.to_vec();
    }
    // Not an ancestor of each dependency: the changes `get_changes(&[d])` returns.
    let after: Vec<HashSet<ChangeHash>> = deps
        .iter()
        .map(|d| am.get_changes(&[*d]).iter().map(|c| c.hash()).collect())
        .collect();
    deps.iter()
        .enumerate()
        .filter(|&(i, d)| (0..deps.len()).all(|j| j == i || after[j].contains(d)))
        .map(|(_, d)| *d)
        .collect()
}

/// The body at `heads`, attributed to the branches that end at `parents` (two or more heads,
/// every one an ancestor of or equal to `heads`). `None` when `parents` is not a merge (fewer
/// than two known parents) or the body is not Text.
pub fn interleaving(
    am: &Automerge,
    heads: &[ChangeHash],
    parents: &[ChangeHash],
) -> Result<Option<Interleaving>, SchemaError> {
    let mut seen = HashSet::new();
    let known: Vec<ChangeHash> = parents
        .iter()
        .copied()
        .filter(|p| am.get_change_by_hash(p).is_some() && seen.insert(*p))
        .take(MAX_BRANCHES)
        .collect();
    let parents = independent(am, &known);
    if parents.len() < 2 {
        return Ok(None);
    }
    let Some((AmValue::Object(ObjType::Text), body)) = am.get_at(ROOT, schema::KEY_BODY, heads)? else {
        return Ok(None);
    };
    // Not an ancestor of parent i: the changes `get_changes(&[p])` returns.
    let after: Vec<HashSet<ChangeHash>> = parents
        .iter()
        .map(|p| am.get_changes(&[*p]).iter().map(|c| c.hash()).collect())
        .collect();
    // (actor, first op) → (last op, branch) of every change on exactly one branch.
    let mut ops: BTreeMap<(Vec<u8>, u64), (u64, usize)> = BTreeMap::new();
    let mut branches: Vec<Branch> = parents
        .iter()
        .map(|p| Branch {
            head: p.to_string(),
            devices: Vec::new(),
            changes: 0,
        })
        .collect();
    for change in am.get_changes(&[]) {
        let hash = change.hash();
        let on: Vec<usize> = (0..parents.len())
            .filter(|&i| !after[i].contains(&hash))
            .collect();
        let [i] = on[..] else { continue };
        let actor = change.actor_id().to_bytes().to_vec();
        let device = hex::encode(&actor[..actor.len().min(16)]);
        let branch = &mut branches[i];
        branch.changes += 1;
        if !branch.devices.contains(&device) {
            branch.devices.push(device);
        }
        if !change.is_empty() {
            ops.insert((actor, change.start_op().get()), (change.max_op(), i));
        }
    }
    let branch_of = |id: &ObjId| -> Option<usize> {
        let ObjId::Id(counter, actor, _) = id else {
            return None;
        };
        let key = (actor.to_bytes().to_vec(), *counter);
        let ((a, _), (last, i)) = ops.range(..=key.clone()).next_back()?;
        (*a == key.0 && *counter <= *last).then_some(*i)
    };
    let mut lines = vec![Line::default()];
    for item in am.list_range_at(&body, .., heads) {
        let text = match &item.value {
            ValueRef::Scalar(ScalarValueRef::Str(t)) => t.to_string(),
            _ => String::new(),
        };
        if text == "\n" {
            // A newline separates lines and belongs to neither: typed at the end of a line it
            // starts the next, typed before a line it ends the previous.
            lines.push(Line::default());
            continue;
        }
        let line = lines.last_mut().expect("lines starts non-empty and only grows");
        line.text.push_str(&text);
        let branch = branch_of(&item.id());
        if let Some(i) = branch
            && !line.branches.contains(&i)
        {
            line.branches.push(i);
        }
        match line.spans.last_mut() {
            Some(span) if span.branch == branch => span.text.push_str(&text),
            _ => line.spans.push(Span { text, branch }),
        }
    }
    for line in &mut lines {
        line.branches.sort_unstable();
    }
    Ok(Some(Interleaving { branches, lines }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync::automerge::ActorId;
    use humansync::automerge::transaction::Transaction;

    fn edit<R>(am: &mut Automerge, f: impl FnOnce(&mut Transaction<'_>) -> Result<R, SchemaError>) -> R {
        am.transact::<_, _, SchemaError>(f).expect("edit").result
    }

    fn device(n: u8) -> ActorId {
        ActorId::from([n; 32].to_vec())
    }

    /// Two devices edit one note offline: the laptop adds a line after the first, the phone adds
    /// a line there too and changes a word inside the shared last line. Merged, every line is
    /// attributed to the branch that typed it; the shared line holds the phone's word only.
    #[test]
    fn a_merge_attributes_each_line_to_the_branches_that_typed_it() {
        let mut laptop = Automerge::new().with_actor(device(1));
        edit(&mut laptop, |tx| schema::init(tx, "Trip", "pack\nbook hotel", 1));
        let mut phone = laptop.fork().with_actor(device(2));
        edit(&mut laptop, |tx| {
            schema::splice_body(tx, 5, 0, "laptop line\n", 2)
        });
        edit(&mut phone, |tx| schema::splice_body(tx, 5, 0, "phone line\n", 3));
        edit(&mut phone, |tx| schema::splice_body(tx, 21, 0, "cheap ", 4));
        let (l, p) = (laptop.get_heads(), phone.get_heads());
        laptop.merge(&mut phone).expect("merge");
        let parents = [l[0], p[0]];
        let heads = laptop.get_heads();
        let v = interleaving(&laptop, &heads, &parents)
            .expect("ok")
            .expect("a merge");
        assert_eq!(v.branches.len(), 2);
        assert_eq!(v.branches[0].devices, vec!["01".repeat(16)]);
        assert_eq!(v.branches[1].devices, vec!["02".repeat(16)]);
        assert_eq!((v.branches[0].changes, v.branches[1].changes), (1, 2));
        let body = schema::read(&laptop).expect("read").body;
        assert_eq!(
            v.lines
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            body
        );
        let by_text: BTreeMap<&str, &[usize]> = v
            .lines
            .iter()
            .map(|l| (l.text.as_str(), &l.branches[..]))
            .collect();
        assert_eq!(by_text["pack"], &[] as &[usize], "shared before the split");
        assert_eq!(by_text["laptop line"], &[0]);
        assert_eq!(by_text["phone line"], &[1]);
        assert_eq!(
            by_text["book cheap hotel"],
            &[1],
            "the phone's word inside a shared line"
        );
        assert_eq!(v.lines.len(), 4);
        let shared = v
            .lines
            .iter()
            .find(|l| l.text == "book cheap hotel")
            .expect("line");
        assert_eq!(
            shared
                .spans
                .iter()
                .map(|s| (s.text.as_str(), s.branch))
                .collect::<Vec<_>>(),
            vec![("book ", None), ("cheap ", Some(1)), ("hotel", None)]
        );
    }

    /// A device typing after a remote change lists its own previous change as a dependency too
    /// (Automerge does): that is no merge, and a merge view of it is none.
    #[test]
    fn an_authors_own_previous_change_among_the_dependencies_is_no_merge() {
        let mut a = Automerge::new().with_actor(device(1));
        edit(&mut a, |tx| schema::init(tx, "T", "x", 1));
        let own = a.get_heads()[0];
        let mut b = a.fork().with_actor(device(2));
        edit(&mut b, |tx| schema::append_body(tx, "b", 2));
        a.merge(&mut b).expect("merge");
        let remote = a.get_heads()[0];
        edit(&mut a, |tx| schema::append_body(tx, "a", 3));
        let deps = a
            .get_change_by_hash(&a.get_heads()[0])
            .expect("change")
            .deps()
            .to_vec();
        assert_eq!(
            deps.len(),
            2,
            "automerge names its own previous change too: {deps:?}"
        );
        assert!(deps.contains(&own) && deps.contains(&remote));
        assert_eq!(independent(&a, &deps), vec![remote]);
        assert_eq!(interleaving(&a, &a.get_heads(), &deps).expect("ok"), None);
    }

    /// Text typed after the merge belongs to no branch; a single parent is not a merge; a parent
    /// the document does not hold is ignored.
    #[test]
    fn text_after_the_merge_is_nobodys_and_one_parent_is_no_merge() {
        let mut a = Automerge::new().with_actor(device(1));
        edit(&mut a, |tx| schema::init(tx, "T", "x", 1));
        let mut b = a.fork().with_actor(device(2));
        edit(&mut a, |tx| schema::append_body(tx, "\na", 2));
        edit(&mut b, |tx| schema::append_body(tx, "\nb", 3));
        let parents = [a.get_heads()[0], b.get_heads()[0]];
        a.merge(&mut b).expect("merge");
        edit(&mut a, |tx| schema::append_body(tx, "\nafter", 4));
        let v = interleaving(&a, &a.get_heads(), &parents)
            .expect("ok")
            .expect("merge");
        let last = v.lines.last().expect("lines");
        assert_eq!((last.text.as_str(), last.branches.len()), ("after", 0));
        assert_eq!(v.lines.iter().filter(|l| !l.branches.is_empty()).count(), 2);
        assert_eq!(interleaving(&a, &a.get_heads(), &parents[..1]).expect("ok"), None);
        let unknown = ChangeHash([7; 32]);
        assert_eq!(
            interleaving(&a, &a.get_heads(), &[parents[0], unknown]).expect("ok"),
            None
        );
    }
}
