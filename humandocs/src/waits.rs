//! `wait-for`: poll the running app until a condition holds, within a bound.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::AppError;
use crate::cli::Condition;
use crate::client::Connection;
use crate::ipc::Request;

/// Time between two checks.
const POLL: Duration = Duration::from_millis(200);

/// Waits until `condition` holds on the app running on `data`, at most `timeout_secs`. Returns the
/// state that satisfied it.
pub async fn wait_for(data: &Path, condition: &Condition, timeout_secs: u64) -> Result<Value, AppError> {
    let mut conn = Connection::open(data)
        .await?
        .ok_or_else(|| AppError::NotRunning(data.display().to_string()))?;
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(timeout_secs);
    loop {
        let (done, state) = check(&mut conn, condition).await?;
        if done {
            let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            return Ok(json!({ "satisfied": true, "waited_ms": waited_ms, "state": state }));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AppError::Timeout {
                secs: timeout_secs,
                last: state.to_string().chars().take(2000).collect(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One check: whether the condition holds, and what was seen.
async fn check(conn: &mut Connection, condition: &Condition) -> Result<(bool, Value), AppError> {
    match condition {
        Condition::Doc { id } => Ok(match show(conn, id).await? {
            Some(doc) => (true, doc),
            None => (false, Value::Null),
        }),
        Condition::Gone { id } => Ok(match show(conn, id).await? {
            Some(doc) => (false, doc),
            None => (true, Value::Null),
        }),
        Condition::Text { id, needle } => Ok(match show(conn, id).await? {
            Some(doc) => (
                doc["body"].as_str().is_some_and(|b| b.contains(needle.as_str())),
                doc,
            ),
            None => (false, Value::Null),
        }),
        Condition::Title { id, title } => Ok(match show(conn, id).await? {
            Some(doc) => (doc["title"].as_str() == Some(title.as_str()), doc),
            None => (false, Value::Null),
        }),
        Condition::Attachment { id, name } => {
            if show(conn, id).await?.is_none() {
                return Ok((false, Value::Null));
            }
            let request = Request::AttachmentReady {
                id: id.clone(),
                name: name.clone(),
            };
            match conn.call(&request).await {
                Ok(v) => Ok((v["ready"] == json!(true), v)),
                Err(AppError::Remote { code, message }) if code == "no_attachment" => {
                    Ok((false, json!({ "error": message })))
                }
                Err(e) => Err(e),
            }
        }
        Condition::Peer { peer } => {
            let status = conn.call(&Request::Status).await?;
            Ok((has_peer(&status, peer), status))
        }
        Condition::NoPeer { peer } => {
            let status = conn.call(&Request::Status).await?;
            Ok((!has_peer(&status, peer), status))
        }
        Condition::Peers { count } => {
            let status = conn.call(&Request::Status).await?;
            let n = status["peers"].as_array().map_or(0, |p| p.len());
            Ok((n >= *count, status))
        }
        Condition::Synced => {
            let status = conn.call(&Request::Status).await?;
            let peers = status["peers"].as_array().cloned().unwrap_or_default();
            let done = !peers.is_empty()
                && peers.iter().all(|p| p["up_to_date"] == json!(true))
                && status["pending_docs"] == json!(0)
                && status["missing_blobs"] == json!(0);
            Ok((done, status))
        }
    }
}

fn has_peer(status: &Value, peer: &str) -> bool {
    status["peers"].as_array().is_some_and(|ps| {
        ps.iter()
            .any(|p| p["id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(peer)))
    })
}

/// The document, or `None` when it does not exist here.
async fn show(conn: &mut Connection, id: &str) -> Result<Option<Value>, AppError> {
    match conn.call(&Request::Show { id: id.to_owned() }).await {
        Ok(v) => Ok(Some(v)),
        Err(AppError::Remote { code, .. }) if code == "not_found" => Ok(None),
        Err(e) => Err(e),
    }
}
