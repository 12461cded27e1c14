//! A note's history: Automerge keeps every change, and every change carries its author — the
//! actor id starts with the first 16 bytes of the device id and the rest is fresh per process
//! run, so one actor is one edit session of one device. The history lists runs of consecutive
//! changes by one session (concurrent edits from two devices interleave as separate runs); any
//! version can be shown, and restored as a new change on top (history is never rewritten).

use axum::Json;
use axum::extract::{Path, Query, State};
use humansync::automerge::transaction::Transaction;
use humansync::automerge::{Automerge, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue, Value as AmValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ApiError, JsonBody};
use super::{interleave, live};
use crate::AppError;
use crate::app::{App, edit, now_ms};
use crate::schema::{self, SchemaError};

/// Most versions listed (the newest).
pub const MAX_VERSIONS: usize = 300;

/// One version: a run of consecutive changes by one edit session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// The heads of the state right after the run's last change (hex).
    pub heads: Vec<String>,
    /// Hex of the first 16 bytes of the device that made it.
    pub device: String,
    /// The edit session (the full actor id, hex).
    pub session: String,
    /// Changes in the run.
    pub changes: usize,
    /// The note's `updated_at_ms` in that state.
    pub at_ms: Option<u64>,
    /// The run's first change merged concurrent work (it has more than one parent).
    pub merge: bool,
    /// Where `merge`: the heads of the branches it joined (hex), to ask how their lines were
    /// interleaved ([`super::interleave`]).
    pub merged_from: Vec<String>,
}

/// A pause longer than this (seconds between two changes of one session, by their recorded
/// times) starts a new version: an edit session is a burst of typing, not a whole run of the app.
pub const IDLE_SPLIT_SECS: i64 = 5 * 60;

/// Consecutive changes of one edit session.
struct Run<'a> {
    actor: Vec<u8>,
    last: ChangeHash,
    changes: usize,
    /// The first change's dependencies.
    deps: &'a [ChangeHash],
    /// The last change's time, unix seconds (0: none recorded).
    time: i64,
}

/// The versions of a document, oldest first, at most [`MAX_VERSIONS`] (the newest).
pub fn versions(am: &Automerge) -> Vec<Version> {
    let changes = am.get_changes(&[]);
    let mut runs: Vec<Run<'_>> = Vec::new();
    for c in &changes {
        let actor = c.actor_id().to_bytes().to_vec();
        let time = c.timestamp();
        match runs.last_mut() {
            Some(run) if run.actor == actor && !idle_between(run.time, time) => {
                run.last = c.hash();
                run.changes += 1;
                run.time = time;
            }
            _ => runs.push(Run {
                actor,
                last: c.hash(),
                changes: 1,
                deps: c.deps(),
                time,
            }),
        }
    }
    let skip = runs.len().saturating_sub(MAX_VERSIONS);
    let mut list: Vec<Version> = runs
        .into_iter()
        .skip(skip)
        .map(|run| {
            // A first change naming more than one dependency may join branches; keep those it
            // truly joins (Automerge also names the author's own previous change).
            let parents = interleave::independent(am, run.deps);
            let merge = parents.len() > 1;
            Version {
                heads: vec![run.last.to_string()],
                device: hex::encode(&run.actor[..run.actor.len().min(16)]),
                session: hex::encode(&run.actor),
                changes: run.changes,
                at_ms: match u64::try_from(run.time) {
                    Ok(secs) if secs > 0 => Some(secs.saturating_mul(1000)),
                    _ => updated_at(am, &[run.last]),
                },
                merge,
                merged_from: if merge { hex_list(&parents) } else { Vec::new() },
            }
        })
        .collect();
    // Concurrent branches merged and not yet edited on top: the current state is a merge of its
    // heads, which no change records; list it as the newest version.
    let heads = am.get_heads();
    if heads.len() > 1 {
        list.push(Version {
            heads: hex_list(&heads),
            device: String::new(),
            session: String::new(),
            changes: 0,
            at_ms: list.iter().filter_map(|v| v.at_ms).max(),
            merge: true,
            merged_from: hex_list(&heads),
        });
    }
    list
}

fn hex_list(hashes: &[ChangeHash]) -> Vec<String> {
    hashes.iter().map(ChangeHash::to_string).collect()
}

/// Whether two changes of one session, at unix seconds `a` then `b`, are far enough apart to be
/// two versions (changes without a time never split a session).
fn idle_between(a: i64, b: i64) -> bool {
    a > 0 && b > 0 && b.saturating_sub(a) > IDLE_SPLIT_SECS
}

fn updated_at(am: &Automerge, heads: &[ChangeHash]) -> Option<u64> {
    match am.get_at(ROOT, schema::KEY_UPDATED, heads).ok()?? {
        (AmValue::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Uint(u) => Some(*u),
            ScalarValue::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Title and body at `heads` (empty where absent).
pub fn at(am: &Automerge, heads: &[ChangeHash]) -> Result<(String, String), SchemaError> {
    let body = match am.get_at(ROOT, schema::KEY_BODY, heads)? {
        Some((AmValue::Object(ObjType::Text), id)) => am.text_at(&id, heads)?,
        _ => String::new(),
    };
    let title = match am.get_at(ROOT, schema::KEY_TITLE, heads)? {
        Some((AmValue::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(t) => t.to_string(),
            _ => String::new(),
        },
        Some((AmValue::Object(ObjType::Text), id)) => am.text_at(&id, heads)?,
        _ => String::new(),
    };
    Ok((title, body))
}

/// Makes the current body and title those of `heads`, as one new change: the body by one splice
/// over the part that differs (so concurrent edits elsewhere in the text still merge).
pub fn restore(tx: &mut Transaction<'_>, heads: &[ChangeHash], now_ms: u64) -> Result<(), SchemaError> {
    let (title, old) = {
        let doc: &Transaction<'_> = tx;
        if heads.iter().any(|h| doc.get_change_by_hash(h).is_none()) {
            return Err(SchemaError::Automerge("unknown version".into()));
        }
        let body = match doc.get_at(ROOT, schema::KEY_BODY, heads)? {
            Some((AmValue::Object(ObjType::Text), id)) => doc.text_at(&id, heads)?,
            _ => String::new(),
        };
        let title = match doc.get_at(ROOT, schema::KEY_TITLE, heads)? {
            Some((AmValue::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(t) => t.to_string(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        (title, body)
    };
    let current = schema::read(&*tx)?;
    let (pos, del, ins) = char_diff(&current.body, &old);
    if del > 0 || !ins.is_empty() {
        schema::splice_body(tx, pos, del, &ins, now_ms)?;
    }
    if current.title != title {
        schema::set_title(tx, &title, now_ms)?;
    }
    Ok(())
}

/// One splice (in characters) turning `a` into `b`: common prefix and suffix kept.
fn char_diff(a: &str, b: &str) -> (usize, usize, String) {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let max = a.len().min(b.len());
    let p = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let s = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max - p)
        .take_while(|(x, y)| x == y)
        .count();
    (p, a.len() - p - s, b[p..b.len() - s].iter().collect())
}

/// `GET /api/notes/{id}/history`: the versions, oldest first.
pub async fn list(State(app): State<App>, Path(uuid): Path<String>) -> Result<Json<Vec<Version>>, ApiError> {
    let (_, doc) = app.existing(&uuid).await?;
    Ok(Json(doc.read(versions).await?))
}

/// Query naming a version.
#[derive(Debug, Deserialize)]
pub struct At {
    /// Comma-separated hex heads.
    pub heads: String,
    /// For a merge: the comma-separated hex heads of the branches it joined
    /// ([`Version::merged_from`]); the answer then says which lines each branch typed.
    #[serde(default)]
    pub merged_from: String,
}

fn heads_of(list: &str) -> Result<Vec<ChangeHash>, ApiError> {
    let hex: Vec<String> = list
        .split(',')
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    let heads = live::parse_heads(&hex).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if heads.is_empty() {
        return Err(ApiError::bad_request("name a version"));
    }
    Ok(heads)
}

/// `GET /api/notes/{id}/version?heads=…`: title and body of that version.
pub async fn show(
    State(app): State<App>,
    Path(uuid): Path<String>,
    Query(q): Query<At>,
) -> Result<Json<Value>, ApiError> {
    let (_, doc) = app.existing(&uuid).await?;
    let heads = heads_of(&q.heads)?;
    let parents = match q.merged_from.is_empty() {
        true => Vec::new(),
        false => heads_of(&q.merged_from)?,
    };
    let result = doc
        .read(move |am| {
            if heads.iter().any(|h| am.get_change_by_hash(h).is_none()) {
                return Ok(None);
            }
            let (title, body) = at(am, &heads)?;
            let lines = interleave::interleaving(am, &heads, &parents)?;
            Ok::<_, SchemaError>(Some((title, body, lines)))
        })
        .await?;
    match result? {
        Some((title, body, interleaving)) => Ok(Json(json!({
            "title": title,
            "body": body,
            "interleaving": interleaving,
        }))),
        None => Err(AppError::NotFound("that version".into()).into()),
    }
}

/// Body of `POST /api/notes/{id}/restore`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    /// The version's heads (hex).
    pub heads: Vec<String>,
}

/// `POST /api/notes/{id}/restore`: makes that version current again, as a new change.
pub async fn restore_version(
    State(app): State<App>,
    Path(uuid): Path<String>,
    JsonBody(r): JsonBody<Restore>,
) -> Result<Json<Value>, ApiError> {
    let (_, doc) = app.existing(&uuid).await?;
    let heads = heads_of(&r.heads.join(","))?;
    let now = now_ms();
    edit(&doc, move |tx| restore(tx, &heads, now)).await?;
    Ok(Json(json!({ "restored": true })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync::automerge::ActorId;

    fn edit_am<R>(am: &mut Automerge, f: impl FnOnce(&mut Transaction<'_>) -> Result<R, SchemaError>) -> R {
        am.transact::<_, _, SchemaError>(f).expect("edit").result
    }

    fn edit_at<R>(
        am: &mut Automerge,
        secs: i64,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<R, SchemaError>,
    ) -> R {
        use humansync::automerge::transaction::CommitOptions;
        am.transact_with::<_, _, SchemaError, _>(|_| CommitOptions::default().with_time(secs), f)
            .expect("edit")
            .result
    }

    /// One session typing at 10:00, pausing, and typing again at 10:20 is two versions, dated
    /// by the changes' recorded times; a pause under the threshold is not.
    #[test]
    fn a_long_pause_splits_a_session_and_versions_carry_change_times() {
        let t0 = 1_800_000_000;
        let mut am = Automerge::new().with_actor(ActorId::from([1u8; 32].to_vec()));
        edit_at(&mut am, t0, |tx| schema::init(tx, "Plan", "a", 1));
        edit_at(&mut am, t0 + 60, |tx| schema::append_body(tx, "b", 2));
        edit_at(&mut am, t0 + 60 + IDLE_SPLIT_SECS + 1, |tx| {
            schema::append_body(tx, "c", 3)
        });
        edit_at(&mut am, t0 + 60 + IDLE_SPLIT_SECS + 2, |tx| {
            schema::append_body(tx, "d", 4)
        });
        let v = versions(&am);
        assert_eq!(
            v.iter().map(|v| v.changes).collect::<Vec<_>>(),
            vec![2, 2],
            "{v:?}"
        );
        assert_eq!(v[0].session, v[1].session, "one session, two bursts");
        assert_eq!(v[0].at_ms, Some(((t0 + 60) * 1000) as u64));
        assert_eq!(v[1].at_ms, Some(((t0 + 62 + IDLE_SPLIT_SECS) * 1000) as u64));
        let first = live::parse_heads(&v[0].heads).expect("heads");
        assert_eq!(at(&am, &first).expect("at").1, "ab");
    }

    #[test]
    fn versions_group_sessions_and_restore_adds_a_change() {
        let mut laptop = Automerge::new().with_actor(ActorId::from([1u8; 32].to_vec()));
        edit_am(&mut laptop, |tx| schema::init(tx, "Trip", "pack", 1));
        edit_am(&mut laptop, |tx| schema::append_body(tx, " bags", 2));
        let mut phone = laptop.fork().with_actor(ActorId::from([2u8; 32].to_vec()));
        edit_am(&mut phone, |tx| schema::splice_body(tx, 0, 0, "Phone: ", 3));
        edit_am(&mut laptop, |tx| schema::append_body(tx, "!", 4));
        laptop.merge(&mut phone).expect("merge");
        let v = versions(&laptop);
        // Storage order: the laptop's session, then the phone's change it merged, then the
        // merge itself (two heads, no change on top yet).
        assert_eq!(v.len(), 3, "{v:?}");
        let heads = hex_list(&laptop.get_heads());
        assert_eq!(
            (v[2].merge, &v[2].heads, &v[2].merged_from),
            (true, &heads, &heads)
        );
        assert!(!v[0].merge && v[0].merged_from.is_empty());
        assert_eq!(
            (v[0].changes, v[0].device.as_str()),
            (3, "01".repeat(16).as_str())
        );
        assert_eq!(
            (v[1].changes, v[1].device.as_str()),
            (1, "02".repeat(16).as_str())
        );
        assert_eq!(v[0].at_ms, Some(4));
        let first = live::parse_heads(&v[0].heads).expect("heads");
        assert_eq!(
            at(&laptop, &first).expect("at"),
            ("Trip".into(), "pack bags!".into())
        );
        assert_eq!(schema::read(&laptop).expect("read").body, "Phone: pack bags!");
        let before = laptop.get_changes(&[]).len();
        edit_am(&mut laptop, |tx| restore(tx, &first, 9));
        assert_eq!(schema::read(&laptop).expect("read").body, "pack bags!");
        let v = versions(&laptop);
        let restored = v.last().expect("versions");
        assert!(restored.merge, "restoring on top of two heads merges them");
        assert_eq!(restored.merged_from, heads);
        assert_eq!(
            v.len(),
            3,
            "the restore's run replaced the unrecorded merge: {v:?}"
        );
        assert_eq!(
            laptop.get_changes(&[]).len(),
            before + 1,
            "restoring adds one change"
        );
        assert_eq!(char_diff("abXcd", "abcd"), (2, 1, String::new()));
        assert_eq!(char_diff("aa", "aaa"), (2, 0, "a".into()));
    }
}
