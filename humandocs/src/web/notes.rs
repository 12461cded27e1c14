//! The notes part of the UI's JSON API: list, open, create, delete, retitle, and live body edits
//! (see [`super::live`]). Every change goes through the `humansync` library.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use humansync::automerge::{Automerge, ROOT, ReadDoc, Value as AmValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ApiError, JsonBody};
use super::live::{self, Applied, Splice};
use crate::app::{App, edit_with_heads, now_ms};
use crate::schema::{self, DocView};
use crate::{AppError, ids};

/// Longest first line shown in the list, in characters.
const FIRST_LINE_CHARS: usize = 140;

/// One note in the list.
#[derive(Debug, Clone, Serialize)]
pub struct NoteSummary {
    /// The uuid part of the id (what URLs use).
    pub id: String,
    /// Title.
    pub title: String,
    /// First non-empty line of the body, shortened.
    pub first_line: String,
    /// Last edit, unix ms.
    pub updated_at_ms: Option<u64>,
    /// Hex of the first 16 bytes of the device that made the last edit (its Automerge actor
    /// starts with them), when known.
    pub edited_by: Option<String>,
    /// Number of attachments.
    pub attachments: usize,
}

/// The device prefix (hex of the actor's first 16 bytes) that last wrote `updated_at_ms`.
pub fn last_editor(am: &Automerge) -> Option<String> {
    match am.get(ROOT, schema::KEY_UPDATED).ok()?? {
        (AmValue::Scalar(_), humansync::automerge::ObjId::Id(_, actor, _)) => {
            let bytes = actor.to_bytes();
            Some(hex::encode(&bytes[..bytes.len().min(16)]))
        }
        _ => None,
    }
}

fn first_line(body: &str) -> String {
    let line = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    line.chars().take(FIRST_LINE_CHARS).collect()
}

/// The sorted heads, the view and the last editor of a document.
fn snapshot(am: &Automerge) -> Result<(Vec<String>, DocView, Option<String>), schema::SchemaError> {
    Ok((
        live::heads_hex(&am.get_heads()),
        schema::read(am)?,
        last_editor(am),
    ))
}

/// `GET /api/notes`: every note, most recently edited first.
pub async fn list(State(app): State<App>) -> Result<Json<Vec<NoteSummary>>, ApiError> {
    let mut out = Vec::new();
    for id in app.node().list_docs(ids::DOC_PREFIX).await? {
        let doc = app.node().open_doc(id.as_str()).await?;
        let (_, view, editor) = match doc.read(snapshot).await {
            Ok(Ok(s)) => s,
            // Deleted meanwhile, or not following the schema: not listed.
            Ok(Err(_)) | Err(humansync::Error::Deleted(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        out.push(NoteSummary {
            id: ids::short(id.as_str()).to_owned(),
            first_line: first_line(&view.body),
            title: view.title,
            updated_at_ms: view.updated_at_ms,
            edited_by: editor,
            attachments: view.attachments.len(),
        });
    }
    out.sort_by(|a, b| {
        b.updated_at_ms
            .cmp(&a.updated_at_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(Json(out))
}

fn note_json(id: &str, heads: Vec<String>, view: DocView, editor: Option<String>) -> Value {
    json!({
        "id": ids::short(id),
        "heads": heads,
        "title": view.title,
        "body": view.body,
        "updated_at_ms": view.updated_at_ms,
        "created_at_ms": view.created_at_ms,
        "edited_by": editor,
        "attachments": view.attachments,
    })
}

async fn open(app: &App, uuid: &str) -> Result<(String, humansync::Doc), ApiError> {
    Ok(app.existing(uuid).await?)
}

async fn read_note(id: &str, doc: &humansync::Doc) -> Result<Value, ApiError> {
    match doc.read(snapshot).await {
        Ok(s) => {
            let (heads, view, editor) = s?;
            Ok(note_json(id, heads, view, editor))
        }
        Err(humansync::Error::Deleted(_)) => Err(AppError::NotFound(id.to_owned()).into()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/notes/{id}`: the note with its heads.
pub async fn show(State(app): State<App>, Path(uuid): Path<String>) -> Result<Json<Value>, ApiError> {
    let (id, doc) = open(&app, &uuid).await?;
    Ok(Json(read_note(&id, &doc).await?))
}

/// Body of `POST /api/notes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Body.
    #[serde(default)]
    pub body: String,
}

/// `POST /api/notes`: creates a note; answers it as `GET` would.
pub async fn create(
    State(app): State<App>,
    JsonBody(new): JsonBody<NewNote>,
) -> Result<Json<Value>, ApiError> {
    let created = app.create(&new.title, &new.body).await?;
    let (id, doc) = open(&app, &created.id).await?;
    Ok(Json(read_note(&id, &doc).await?))
}

/// `DELETE /api/notes/{id}`: deletes the note on every device (HS-DOC-5).
pub async fn delete(State(app): State<App>, Path(uuid): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = app.delete(&uuid).await?;
    Ok(Json(json!({ "id": ids::short(&id), "deleted": true })))
}

/// Body of `PUT /api/notes/{id}/title`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Title {
    /// The new title.
    pub title: String,
}

/// `PUT /api/notes/{id}/title`: sets the title (last writer wins).
pub async fn set_title(
    State(app): State<App>,
    Path(uuid): Path<String>,
    JsonBody(t): JsonBody<Title>,
) -> Result<Json<Value>, ApiError> {
    app.set_title(&uuid, &t.title).await?;
    Ok(Json(json!({ "ok": true })))
}

/// Body of `POST /api/notes/{id}/splice`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpliceRequest {
    /// The heads of the browser's shadow (hex).
    pub heads: Vec<String>,
    /// The edit, against the shadow.
    #[serde(flatten)]
    pub splice: Splice,
}

/// `POST /api/notes/{id}/splice`: 200 `{"heads": […]}` (the browser's new shadow heads) when the
/// document was at the browser's heads; else 409 with a [`live::Catchup`] to rebase on.
pub async fn splice(
    State(app): State<App>,
    Path(uuid): Path<String>,
    JsonBody(req): JsonBody<SpliceRequest>,
) -> Result<Response, ApiError> {
    let (id, doc) = open(&app, &uuid).await?;
    let heads = live::parse_heads(&req.heads).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (at, splice, now) = (heads.clone(), req.splice, now_ms());
    // The heads right after the edit come from the same command as the edit: a remote change
    // merged just after it cannot be mistaken for part of it.
    let (applied, after) =
        edit_with_heads(&doc, move |tx| live::splice_if_current(tx, &at, &splice, now)).await?;
    if applied != Applied::Stale {
        let heads = live::heads_hex(&live::sorted(after));
        return Ok((StatusCode::OK, Json(json!({ "heads": heads }))).into_response());
    }
    match doc.read(move |am| live::catch_up(am, &heads)).await {
        Ok(Ok(c)) => Ok((StatusCode::CONFLICT, Json(json!(c))).into_response()),
        Ok(Err(e)) => Err(e.into()),
        Err(humansync::Error::Deleted(_)) => Err(AppError::NotFound(id).into()),
        Err(e) => Err(e.into()),
    }
}

/// Query of `GET /api/notes/{id}/catchup`.
#[derive(Debug, Deserialize)]
pub struct Since {
    /// Comma-separated hex heads of the browser's shadow.
    #[serde(default)]
    pub heads: String,
}

/// `GET /api/notes/{id}/catchup?heads=…`: the changes since the browser's shadow.
pub async fn catchup(
    State(app): State<App>,
    Path(uuid): Path<String>,
    Query(since): Query<Since>,
) -> Result<Json<live::Catchup>, ApiError> {
    let (id, doc) = open(&app, &uuid).await?;
    let hex: Vec<String> = since
        .heads
        .split(',')
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    let heads = live::parse_heads(&hex).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match doc.read(move |am| live::catch_up(am, &heads)).await {
        Ok(c) => Ok(Json(c?)),
        Err(humansync::Error::Deleted(_)) => Err(AppError::NotFound(id).into()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_skips_blank_lines_and_is_bounded() {
        assert_eq!(first_line("\n  \n  milk \neggs"), "milk");
        assert_eq!(first_line(""), "");
        assert_eq!(first_line(&"x".repeat(500)).chars().count(), FIRST_LINE_CHARS);
    }

    #[test]
    fn the_last_editor_is_the_actor_of_the_last_edit() {
        use humansync::automerge::ActorId;
        let mut am = Automerge::new().with_actor(ActorId::from([0xab; 32].to_vec()));
        am.transact::<_, _, schema::SchemaError>(|tx| schema::init(tx, "t", "b", 1))
            .expect("edit");
        assert_eq!(last_editor(&am), Some("ab".repeat(16)));
        assert_eq!(last_editor(&Automerge::new()), None);
    }
}
