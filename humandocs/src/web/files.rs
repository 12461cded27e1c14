//! Attachments in the UI: upload (the page sends the file's bytes as the request body), download
//! or inline display, and whether the bytes are here yet.
//!
//! Uploads are streamed to a file under `<data>/uploads` and refused past
//! [`MAX_ATTACHMENT_BYTES`] with a clear 413. Downloads are served so that no attachment can run
//! script in the page's origin: only raster images are shown inline, everything else (SVG, HTML…)
//! is a download, and every answer carries `nosniff` and a sandboxing CSP.

use std::path::PathBuf;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::error::ApiError;
use crate::AppError;
use crate::app::App;
use crate::schema::Attachment;

/// Largest attachment accepted from the page, in bytes.
pub const MAX_ATTACHMENT_BYTES: u64 = 256 << 20;

/// Types shown inline (raster images only: an SVG can carry script).
const INLINE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Query of the upload.
#[derive(Debug, Deserialize)]
pub struct Upload {
    /// The attachment's name (the file name).
    pub name: String,
}

/// A file under `<data>/uploads` removed when dropped.
struct TempUpload(PathBuf);

impl Drop for TempUpload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_path(app: &App) -> Result<PathBuf, ApiError> {
    let dir = app.data().join("uploads");
    std::fs::create_dir_all(&dir).map_err(|e| AppError::io(format!("creating {}", dir.display()))(e))?;
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(dir.join(format!("upload-{}", hex::encode(r))))
}

/// `POST /api/notes/{id}/attachments?name=…`: the body is the file; attaches it to the note.
pub async fn upload(
    State(app): State<App>,
    Path(uuid): Path<String>,
    Query(q): Query<Upload>,
    body: Body,
) -> Result<Json<Attachment>, ApiError> {
    crate::schema::check_name(&q.name)?;
    app.existing(&uuid).await?;
    let tmp = TempUpload(temp_path(&app)?);
    let mut file = tokio::fs::File::create(&tmp.0)
        .await
        .map_err(AppError::io("creating the upload file"))?;
    let mut stream = body.into_data_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("upload interrupted: {e}")))?;
        total = total.saturating_add(chunk.len() as u64);
        if total > MAX_ATTACHMENT_BYTES {
            return Err(ApiError::too_large(
                &format!("{:?}", q.name),
                MAX_ATTACHMENT_BYTES,
            ));
        }
        file.write_all(&chunk)
            .await
            .map_err(AppError::io("writing the upload"))?;
    }
    file.flush().await.map_err(AppError::io("writing the upload"))?;
    drop(file);
    let attached = app.attach(&uuid, &tmp.0, Some(&q.name)).await?;
    Ok(Json(attached))
}

async fn find(app: &App, uuid: &str, name: &str) -> Result<Attachment, ApiError> {
    let shown = app.show(uuid).await?;
    shown
        .view
        .attachments
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| {
            AppError::NoAttachment {
                id: shown.id,
                name: name.to_owned(),
            }
            .into()
        })
}

/// `GET /api/notes/{id}/attachments/{name}/state`: `{"held": bool, "size": N, "received": N}`
/// without waiting for a fetch (started if needed); `received` counts the bytes of a transfer
/// under way, so the page shows "arriving — 1.2 MB of 5 MB" and asks again.
pub async fn state(
    State(app): State<App>,
    Path((uuid, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let a = find(&app, &uuid, &name).await?;
    let held = app.blob_here(a.hash).await?;
    let received = if held {
        a.size
    } else {
        app.node().blob_progress(a.hash).await?.received
    };
    Ok(Json(
        json!({ "held": held, "size": a.size, "received": received, "type": a.mime }),
    ))
}

/// `GET /api/notes/{id}/attachments/{name}`: the bytes (fetched from a peer if needed; 502
/// `unavailable` when no connected peer has them).
pub async fn download(
    State(app): State<App>,
    Path((uuid, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let a = find(&app, &uuid, &name).await?;
    let path = match app.node().get_blob(a.hash).await {
        Ok(p) => p,
        Err(humansync::Error::BlobUnavailable(_)) => return Err(AppError::Unavailable(a.name).into()),
        Err(e) => return Err(e.into()),
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(AppError::io(format!("reading {}", path.display())))?;
    let body = Body::from_stream(file_chunks(file));
    let mut r = body.into_response();
    let inline = INLINE_TYPES.contains(&a.mime.as_str());
    let h = r.headers_mut();
    let content_type = if inline {
        a.mime.as_str()
    } else {
        "application/octet-stream"
    };
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let disposition = if inline { "inline" } else { "attachment" };
    let encoded: String = a
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename*=UTF-8''{encoded}")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(r)
}

/// The file as a stream of chunks.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}
