//! Live editing of a note's body from a browser: the browser edits a copy of the body known at
//! some Automerge heads (its *shadow*), sends each edit as a splice against those heads, and
//! receives the changes it has not seen as splices against its shadow.
//!
//! - A splice is applied only when the document is still at the heads the browser named; it then
//!   becomes one Automerge change whose dependencies are exactly those heads, so the browser's new
//!   shadow is a real document state again (its heads: that one change).
//! - Otherwise the answer is *stale*: the splices from the browser's heads to the current heads,
//!   which the browser applies to its shadow and to the text being typed (keeping the cursor and
//!   selection on the same characters), then retries its pending edit.
//!
//! Positions here count Unicode scalar values, like the schema's; the browser converts.

use humansync::automerge::transaction::Transaction;
use humansync::automerge::{Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value};
use serde::{Deserialize, Serialize};

use crate::schema::{self, SchemaError};

/// Most heads a browser may name (a document rarely has more than a handful).
pub const MAX_HEADS: usize = 64;

/// One text edit: delete `del` characters at `pos`, then insert `ins` there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Splice {
    /// Position, in characters.
    pub pos: usize,
    /// Characters deleted.
    pub del: usize,
    /// Text inserted.
    pub ins: String,
}

/// How the browser brings its shadow of the body to the current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BodyUpdate {
    /// Apply these splices, in order, to the shadow.
    Splices {
        /// The splices.
        splices: Vec<Splice>,
    },
    /// Replace the shadow with this text (the browser's heads were unknown here, or the body
    /// object itself was replaced).
    Reset {
        /// The whole body.
        text: String,
    },
}

/// What the browser needs after a pull or a refused splice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catchup {
    /// The current heads (hex).
    pub heads: Vec<String>,
    /// From the browser's shadow to the body at `heads`.
    pub body: BodyUpdate,
    /// The current title.
    pub title: String,
}

/// A malformed heads list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadsError {
    /// More than [`MAX_HEADS`].
    #[error("too many heads ({0}, at most {MAX_HEADS})")]
    TooMany(usize),
    /// Not a 64-hex change hash.
    #[error("not a change hash: {0:?}")]
    Bad(String),
}

/// Parses hex change hashes, sorted.
pub fn parse_heads(hex: &[String]) -> Result<Vec<ChangeHash>, HeadsError> {
    if hex.len() > MAX_HEADS {
        return Err(HeadsError::TooMany(hex.len()));
    }
    let mut out = hex
        .iter()
        .map(|h| {
            h.parse::<ChangeHash>()
                .map_err(|_| HeadsError::Bad(h.chars().take(80).collect()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Heads as sorted hex strings.
pub fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    let mut out: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    out.sort();
    out
}

/// Sorted heads.
pub fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

/// The outcome of [`splice_if_current`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The splice is in the transaction.
    Yes,
    /// The document moved on since `heads`: nothing was done.
    Stale,
    /// The document is at `heads` and the splice changes nothing (no change is made).
    Empty,
}

/// Splices the body in `tx` only if the document is at exactly `heads` (sorted).
pub fn splice_if_current(
    tx: &mut Transaction<'_>,
    heads: &[ChangeHash],
    splice: &Splice,
    now_ms: u64,
) -> Result<Applied, SchemaError> {
    if sorted(tx.get_heads()) != heads {
        return Ok(Applied::Stale);
    }
    if splice.del == 0 && splice.ins.is_empty() {
        return Ok(Applied::Empty);
    }
    schema::splice_body(tx, splice.pos, splice.del, &splice.ins, now_ms)?;
    Ok(Applied::Yes)
}

/// The body's Text object at `heads` (current when `None`).
fn body_obj(am: &Automerge, heads: Option<&[ChangeHash]>) -> Option<ObjId> {
    let found = match heads {
        Some(h) => am.get_at(ROOT, schema::KEY_BODY, h),
        None => am.get(ROOT, schema::KEY_BODY),
    };
    match found {
        Ok(Some((Value::Object(ObjType::Text), id))) => Some(id),
        _ => None,
    }
}

/// Whether every hash is a change this document holds.
fn known(am: &Automerge, heads: &[ChangeHash]) -> bool {
    heads.iter().all(|h| am.get_change_by_hash(h).is_some())
}

/// What a browser whose shadow is at `since` needs to reach the current state.
pub fn catch_up(am: &Automerge, since: &[ChangeHash]) -> Result<Catchup, SchemaError> {
    let now = sorted(am.get_heads());
    let view = schema::read(am)?;
    let reset = || BodyUpdate::Reset {
        text: view.body.clone(),
    };
    let body = if !known(am, since) {
        reset()
    } else {
        match (body_obj(am, Some(since)), body_obj(am, None)) {
            (Some(before), Some(after)) if before == after => BodyUpdate::Splices {
                splices: text_splices(am, &after, since, &now),
            },
            _ => reset(),
        }
    };
    Ok(Catchup {
        heads: heads_hex(&now),
        body,
        title: view.title,
    })
}

/// The text splices of `obj` from `before` to `after`, in order.
fn text_splices(am: &Automerge, obj: &ObjId, before: &[ChangeHash], after: &[ChangeHash]) -> Vec<Splice> {
    use humansync::automerge::PatchAction;
    am.diff_obj(obj, before, after, false)
        .map(|patches| {
            patches
                .into_iter()
                .filter(|p| &p.obj == obj)
                .filter_map(|p| match p.action {
                    PatchAction::SpliceText { index, value, .. } => Some(Splice {
                        pos: index,
                        del: 0,
                        ins: value.make_string(),
                    }),
                    PatchAction::DeleteSeq { index, length } => Some(Splice {
                        pos: index,
                        del: length,
                        ins: String::new(),
                    }),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit<R>(am: &mut Automerge, f: impl FnOnce(&mut Transaction<'_>) -> Result<R, SchemaError>) -> R {
        am.transact::<_, _, SchemaError>(f).expect("edit").result
    }

    fn apply(text: &str, splices: &[Splice]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for s in splices {
            chars.splice(s.pos..s.pos + s.del, s.ins.chars());
        }
        chars.into_iter().collect()
    }

    fn splice(pos: usize, del: usize, ins: &str) -> Splice {
        Splice {
            pos,
            del,
            ins: ins.into(),
        }
    }

    #[test]
    fn a_splice_at_the_current_heads_applies_and_names_its_own_heads() {
        let mut am = Automerge::new();
        edit(&mut am, |tx| schema::init(tx, "t", "héllo", 1));
        let h0 = sorted(am.get_heads());
        let applied = edit(&mut am, |tx| {
            splice_if_current(tx, &h0, &splice(5, 0, " wörld"), 2)
        });
        assert_eq!(applied, Applied::Yes);
        assert_eq!(schema::read(&am).expect("read").body, "héllo wörld");
        // Replaying at the old heads is refused and changes nothing.
        let again = edit(&mut am, |tx| splice_if_current(tx, &h0, &splice(0, 1, ""), 3));
        assert_eq!(again, Applied::Stale);
        assert_eq!(schema::read(&am).expect("read").body, "héllo wörld");
    }

    #[test]
    fn an_empty_splice_makes_no_change_and_keeps_the_heads() {
        let mut am = Automerge::new();
        edit(&mut am, |tx| schema::init(tx, "t", "abc", 1));
        let h0 = sorted(am.get_heads());
        let applied = edit(&mut am, |tx| splice_if_current(tx, &h0, &splice(1, 0, ""), 1));
        assert_eq!(applied, Applied::Empty);
        assert_eq!(sorted(am.get_heads()), h0);
        // The same edit made directly commits nothing (Automerge drops a put of the value
        // already there): no change is needed to answer it.
        edit(&mut am, |tx| schema::splice_body(tx, 1, 0, "", 1));
        assert_eq!(sorted(am.get_heads()), h0);
    }

    #[test]
    fn a_catch_up_from_the_own_heads_carries_only_the_remote_change() {
        let mut am = Automerge::new();
        edit(&mut am, |tx| schema::init(tx, "t", "abc", 1));
        let mut remote = am.fork();
        let h0 = sorted(am.get_heads());
        edit(&mut am, |tx| splice_if_current(tx, &h0, &splice(3, 0, "d"), 2));
        let own = sorted(am.get_heads());
        edit(&mut remote, |tx| schema::splice_body(tx, 0, 0, "X", 2));
        am.merge(&mut remote).expect("merge");
        assert_eq!(
            am.text_at(body_obj(&am, None).expect("body"), &own)
                .expect("text"),
            "abcd"
        );
        // From the browser's shadow ("abcd" at `own`) the catch-up is the remote splice only.
        let c = catch_up(&am, &own).expect("catch up");
        match c.body {
            BodyUpdate::Splices { splices } => assert_eq!(apply("abcd", &splices), "Xabcd"),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.heads, heads_hex(&am.get_heads()));
    }

    #[test]
    fn catch_up_from_unknown_heads_resets_and_bad_heads_are_refused() {
        let mut am = Automerge::new();
        edit(&mut am, |tx| schema::init(tx, "title", "body", 1));
        let stranger = ChangeHash([7; 32]);
        let c = catch_up(&am, &[stranger]).expect("catch up");
        assert_eq!(c.body, BodyUpdate::Reset { text: "body".into() });
        assert_eq!(c.title, "title");
        assert!(matches!(parse_heads(&["zz".into()]), Err(HeadsError::Bad(_))));
        let many = vec![stranger.to_string(); MAX_HEADS + 1];
        assert!(matches!(parse_heads(&many), Err(HeadsError::TooMany(_))));
        assert_eq!(parse_heads(&[stranger.to_string()]).expect("ok"), vec![stranger]);
    }

    #[test]
    fn catch_up_splices_rebuild_the_text_from_any_earlier_state() {
        let mut am = Automerge::new();
        edit(&mut am, |tx| schema::init(tx, "t", "one two three", 1));
        let h0 = sorted(am.get_heads());
        edit(&mut am, |tx| schema::splice_body(tx, 4, 4, "2 ", 2));
        edit(&mut am, |tx| schema::splice_body(tx, 0, 0, "🙂", 3));
        edit(&mut am, |tx| schema::append_body(tx, "!", 4));
        let c = catch_up(&am, &h0).expect("catch up");
        match c.body {
            BodyUpdate::Splices { splices } => {
                assert_eq!(apply("one two three", &splices), "🙂one 2 three!")
            }
            other => panic!("{other:?}"),
        }
    }
}
