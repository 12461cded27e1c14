//! The sync part of the UI's JSON API: status (the indicator and the devices panel), pairing and
//! revoking a device, and the event stream that tells the page what changed.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use super::error::{ApiError, JsonBody};
use crate::app::{App, now_ms};
use crate::events;

/// `GET /api/status`: the app's status report plus the time it was taken.
pub async fn status(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let report = app.status().await?;
    let mut value = serde_json::to_value(&report).map_err(|e| ApiError::bad_request(e.to_string()))?;
    value["now_ms"] = json!(now_ms());
    Ok(Json(value))
}

/// Body of `POST /api/pair`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    /// Server URL, or an invitation link `humansync://pair?…`.
    pub url: String,
    /// Server password (not with an invitation link).
    #[serde(default)]
    pub password: Option<String>,
}

/// `POST /api/pair`: pairs with a server (URL and password) or an invitation link.
pub async fn pair(State(app): State<App>, JsonBody(p): JsonBody<Pair>) -> Result<Json<Value>, ApiError> {
    app.pair(p.url.trim(), p.password.as_deref()).await?;
    status(State(app)).await
}

/// Body of `POST /api/invite`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// How long the invitation stays valid, in minutes (the server's default and bounds apply).
    #[serde(default)]
    pub minutes: Option<u64>,
}

/// `POST /api/invite`: mints a one-time invitation for a new device (what `humandocs invite`
/// does): the link, a QR code as SVG, and when it expires.
pub async fn invite(State(app): State<App>, JsonBody(i): JsonBody<Invite>) -> Result<Json<Value>, ApiError> {
    let value = app
        .handle(crate::ipc::Request::Invite { minutes: i.minutes })
        .await?;
    Ok(Json(value))
}

/// Body of `POST /api/revoke`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    /// The device id (64 hex characters).
    pub device: String,
    /// Server password.
    pub password: String,
}

/// `POST /api/revoke`: revokes a device with the server password, through the library's OPAQUE
/// revocation (what `humandocs revoke` does).
pub async fn revoke(State(app): State<App>, JsonBody(r): JsonBody<Revoke>) -> Result<Json<Value>, ApiError> {
    let value = app
        .handle(crate::ipc::Request::Revoke {
            device: r.device,
            password: r.password,
        })
        .await?;
    Ok(Json(value))
}

/// State handed to [`stream`]: the app and the stop signal.
#[derive(Clone)]
pub struct EventsState {
    /// The app.
    pub app: App,
    /// Turns true when the app stops (the stream then ends, so the server can shut down).
    pub stop: watch::Receiver<bool>,
}

/// `GET /api/events`: server-sent events, one JSON object per library event of interest
/// (`doc-changed`, `doc-deleted`, `peer-connected`, `blob-arrived`, …; `lagged` when some were
/// missed — the page then reloads what it shows).
pub async fn stream(State(s): State<EventsState>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = s.app.node().events();
    let stream = futures_util::stream::unfold((rx, s.stop), |(mut rx, mut stop)| async move {
        loop {
            let next = tokio::select! {
                e = rx.recv() => e,
                _ = crate::server::stopped(&mut stop) => return None,
            };
            let json = match next {
                Ok(e) => match events::to_json(&e) {
                    Some(j) => j,
                    None => continue,
                },
                Err(broadcast::error::RecvError::Lagged(n)) => json!({ "event": "lagged", "missed": n }),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(SseEvent::default().data(json.to_string())), (rx, stop)));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
