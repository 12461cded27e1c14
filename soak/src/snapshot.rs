//! What a device holds, read through its socket: every document in full, and its sync status.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{self, Outcome};

/// One document as a device shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocState {
    /// Automerge heads.
    pub heads: Vec<String>,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Attachments: name → hash.
    pub attachments: BTreeMap<String, String>,
}

/// A device's documents and status at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Documents by id.
    pub docs: BTreeMap<String, DocState>,
    /// The `status` answer.
    pub status: Value,
}

impl Snapshot {
    /// Connected to the server and up to date with every connected peer.
    pub fn all_up_to_date(&self) -> bool {
        let peers = self.status["peers"].as_array().cloned().unwrap_or_default();
        self.status["server_connected"].as_bool() == Some(true)
            && peers.iter().all(|p| p["up_to_date"].as_bool() == Some(true))
    }

    /// Attachments referenced but not held.
    pub fn missing_blobs(&self) -> u64 {
        self.status["missing_blobs"].as_u64().unwrap_or(u64::MAX)
    }
}

/// Reads a device's full state; `None` when it does not answer.
pub async fn take(data: &Path) -> Option<Snapshot> {
    let timeout = Duration::from_secs(30);
    let status = client::request(data, &json!({"cmd": "status"}), timeout)
        .await
        .ok()?
        .clone();
    let list = client::request(data, &json!({"cmd": "list"}), timeout).await;
    let mut docs = BTreeMap::new();
    for item in list.ok()?.as_array()? {
        let Some(id) = item["id"].as_str() else { continue };
        match client::request(data, &json!({"cmd": "show", "id": id}), timeout).await {
            Outcome::Ok(v) => {
                docs.insert(id.to_owned(), doc_state(&v));
            }
            // Deleted between the list and the show: not held.
            Outcome::Err { code, .. } if code == "not_found" => {}
            _ => return None,
        }
    }
    Some(Snapshot { docs, status })
}

/// A `show` answer as a [`DocState`].
pub fn doc_state(v: &Value) -> DocState {
    DocState {
        heads: v["heads"]
            .as_array()
            .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        title: v["title"].as_str().unwrap_or_default().to_owned(),
        body: v["body"].as_str().unwrap_or_default().to_owned(),
        attachments: v["attachments"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| Some((x["name"].as_str()?.to_owned(), x["hash"].as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A short description of how two snapshots differ (for violations).
pub fn diff(a_name: &str, a: &Snapshot, b_name: &str, b: &Snapshot) -> String {
    let mut out = Vec::new();
    for (id, da) in &a.docs {
        match b.docs.get(id) {
            None => out.push(format!("{id} only on {a_name}")),
            Some(db) if db != da => out.push(format!(
                "{id} differs (heads {} vs {}, body {} vs {} chars)",
                da.heads.len(),
                db.heads.len(),
                da.body.chars().count(),
                db.body.chars().count()
            )),
            _ => {}
        }
    }
    for id in b.docs.keys().filter(|id| !a.docs.contains_key(*id)) {
        out.push(format!("{id} only on {b_name}"));
    }
    out.truncate(6);
    out.join("; ")
}
