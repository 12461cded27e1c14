//! The app's operations over a running humansync node: one place used by the socket server, the
//! direct (no running app) mode and the interactive UI alike.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use humansync::automerge::transaction::Transaction;
use humansync::{Doc, Node};
use serde::Serialize;
use serde_json::{Value, json};

use crate::ipc::Request;
use crate::schema::{self, Attachment, DocView, SchemaError};
use crate::settings::Settings;
use crate::status::StatusReport;
use crate::{AppError, ids};

/// How long `attachment-ready` waits for a fetch before answering false.
const READY_PROBE: Duration = Duration::from_secs(2);
/// How long [`App::blob_here`] waits for a fetch.
const HELD_PROBE: Duration = Duration::from_millis(300);

/// One document with its id.
#[derive(Debug, Clone, Serialize)]
pub struct ShownDoc {
    /// Full document id.
    pub id: String,
    /// Its content.
    #[serde(flatten)]
    pub view: DocView,
    /// The Automerge heads (hex change hashes, sorted) of the state shown, in `show` only: two
    /// devices holding the same heads hold the same document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<Vec<String>>,
}

/// One line of `list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    /// Full document id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body length in characters.
    pub chars: usize,
    /// Number of attachments.
    pub attachments: usize,
    /// Last local edit on the device that made it, unix ms.
    pub updated_at_ms: Option<u64>,
}

/// The Humandocs app over one node and its data directory.
#[derive(Clone)]
pub struct App {
    node: Node,
    data: PathBuf,
}

/// Unix ms now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl App {
    /// Wraps a started node whose storage is `data`.
    pub fn new(node: Node, data: impl Into<PathBuf>) -> Self {
        App {
            node,
            data: data.into(),
        }
    }

    /// The node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// Runs one request (`watch` and `stop` are the server's business and answer bad_request here).
    pub async fn handle(&self, req: Request) -> Result<Value, AppError> {
        match req {
            Request::List => to_json(&self.list().await?),
            Request::Create { title, body } => to_json(&self.create(&title, &body).await?),
            Request::Show { id } => to_json(&self.show(&id).await?),
            Request::Insert { id, pos, text } => to_json(&self.splice(&id, pos, 0, &text).await?),
            Request::DeleteText { id, pos, len } => to_json(&self.splice(&id, pos, len, "").await?),
            Request::Append { id, text } => to_json(&self.append(&id, &text).await?),
            Request::SetTitle { id, title } => to_json(&self.set_title(&id, &title).await?),
            Request::Delete { id } => {
                let id = self.delete(&id).await?;
                Ok(json!({ "id": id, "deleted": true }))
            }
            Request::Attach { id, path, name } => to_json(&self.attach(&id, &path, name.as_deref()).await?),
            Request::Detach { id, name } => to_json(&self.detach(&id, &name).await?),
            Request::SaveAttachment { id, name, path } => self.save_attachment(&id, &name, &path).await,
            Request::AttachmentReady { id, name } => {
                let ready = self.attachment_ready(&id, &name).await?;
                Ok(json!({ "ready": ready }))
            }
            Request::Status => to_json(&self.status().await?),
            Request::Peers => to_json(&self.status().await?.peers),
            Request::Id => Ok(json!({
                "id": self.node.id().to_string(),
                "addrs": self.node.addrs().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            })),
            Request::Pair { url, password } => {
                self.pair(&url, password.as_deref()).await?;
                to_json(&self.status().await?)
            }
            Request::Invite { minutes } => {
                let invitation = self
                    .node
                    .create_invitation(minutes.map(|m| m.saturating_mul(60_000)))
                    .await?;
                let link = invitation.to_link();
                let qr = humansync::render_qr(&link)?;
                let svg = humansync::render_qr_svg(&link)?;
                Ok(json!({ "link": link, "qr": qr, "svg": svg, "expires_at_ms": invitation.expires_at_ms }))
            }
            Request::Revoke { device, password } => {
                let id: humansync::DeviceId = device
                    .trim()
                    .parse()
                    .map_err(|_| AppError::BadRequest(format!("{device:?} is not a device id")))?;
                to_json(&self.node.revoke_device(id, &password, None).await?)
            }
            Request::Watch | Request::Stop => {
                Err(AppError::BadRequest("watch and stop need a running app".into()))
            }
        }
    }

    /// Creates a document; returns it.
    pub async fn create(&self, title: &str, body: &str) -> Result<ShownDoc, AppError> {
        let id = ids::new_doc_id().map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
        let doc = self.node.open_doc(&id).await?;
        let (title, body, now) = (title.to_owned(), body.to_owned(), now_ms());
        let view = edit(&doc, move |tx| {
            schema::init(tx, &title, &body, now)?;
            schema::read(tx)
        })
        .await?;
        Ok(ShownDoc {
            id,
            view,
            heads: None,
        })
    }

    /// Every document, sorted by id.
    pub async fn list(&self) -> Result<Vec<ListItem>, AppError> {
        let mut out = Vec::new();
        for id in self.node.list_docs(ids::DOC_PREFIX).await? {
            let doc = self.node.open_doc(id.as_str()).await?;
            // A document deleted meanwhile, or found corrupt (quarantined while it is recovered
            // from peers), is simply not listed.
            let view = match doc.read(schema::read).await {
                Ok(v) => v?,
                Err(humansync::Error::Deleted(_) | humansync::Error::Quarantined(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            out.push(ListItem {
                id: id.to_string(),
                title: view.title,
                chars: view.body.chars().count(),
                attachments: view.attachments.len(),
                updated_at_ms: view.updated_at_ms,
            });
        }
        Ok(out)
    }

    /// Opens a document that exists (never creates one): its full id and handle.
    pub async fn existing(&self, input: &str) -> Result<(String, Doc), AppError> {
        let id = ids::parse_doc_id(input).ok_or_else(|| AppError::BadId(input.to_owned()))?;
        let listed = self.node.list_docs(&id).await?;
        if !listed.iter().any(|d| d.as_str() == id) {
            return Err(AppError::NotFound(id));
        }
        let doc = self.node.open_doc(&id).await?;
        Ok((id, doc))
    }

    /// One document in full.
    pub async fn show(&self, input: &str) -> Result<ShownDoc, AppError> {
        let (id, doc) = self.existing(input).await?;
        let read = doc.read(|am| {
            let mut heads: Vec<String> = am.get_heads().iter().map(|h| h.to_string()).collect();
            heads.sort();
            schema::read(am).map(|view| (view, heads))
        });
        let (view, heads) = match read.await {
            Ok(v) => v?,
            Err(humansync::Error::Deleted(_)) => return Err(AppError::NotFound(id)),
            Err(e) => return Err(e.into()),
        };
        Ok(ShownDoc {
            id,
            view,
            heads: Some(heads),
        })
    }

    /// Splices the body: deletes `delete` characters at `pos`, inserts `text` there.
    pub async fn splice(
        &self,
        input: &str,
        pos: usize,
        delete: usize,
        text: &str,
    ) -> Result<ShownDoc, AppError> {
        let (id, doc) = self.existing(input).await?;
        let (text, now) = (text.to_owned(), now_ms());
        let view = edit(&doc, move |tx| {
            schema::splice_body(tx, pos, delete, &text, now)?;
            schema::read(tx)
        })
        .await?;
        Ok(ShownDoc {
            id,
            view,
            heads: None,
        })
    }

    /// Appends to the body.
    pub async fn append(&self, input: &str, text: &str) -> Result<ShownDoc, AppError> {
        let (id, doc) = self.existing(input).await?;
        let (text, now) = (text.to_owned(), now_ms());
        let view = edit(&doc, move |tx| {
            schema::append_body(tx, &text, now)?;
            schema::read(tx)
        })
        .await?;
        Ok(ShownDoc {
            id,
            view,
            heads: None,
        })
    }

    /// Sets the title.
    pub async fn set_title(&self, input: &str, title: &str) -> Result<ShownDoc, AppError> {
        let (id, doc) = self.existing(input).await?;
        let (title, now) = (title.to_owned(), now_ms());
        let view = edit(&doc, move |tx| {
            schema::set_title(tx, &title, now)?;
            schema::read(tx)
        })
        .await?;
        Ok(ShownDoc {
            id,
            view,
            heads: None,
        })
    }

    /// Deletes a document on every device (HS-DOC-5). Returns its full id.
    pub async fn delete(&self, input: &str) -> Result<String, AppError> {
        let (id, _) = self.existing(input).await?;
        self.node.delete_doc(&id).await?;
        Ok(id)
    }

    /// Attaches the file at `path` under `name` (its file name by default).
    pub async fn attach(&self, input: &str, path: &Path, name: Option<&str>) -> Result<Attachment, AppError> {
        let (_, doc) = self.existing(input).await?;
        let name = match name {
            Some(n) => n.to_owned(),
            None => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| AppError::BadRequest(format!("{} has no file name", path.display())))?,
        };
        schema::check_name(&name)?;
        let meta = std::fs::metadata(path).map_err(AppError::io(format!("reading {}", path.display())))?;
        if !meta.is_file() {
            return Err(AppError::BadRequest(format!("{} is not a file", path.display())));
        }
        let hash = self.node.store_blob(path).await?;
        let attachment = Attachment {
            mime: schema::guess_mime(&name).to_owned(),
            name,
            hash,
            size: meta.len(),
            added_at_ms: None,
        };
        let (a, now) = (attachment.clone(), now_ms());
        edit(&doc, move |tx| schema::add_attachment(tx, &a, now)).await?;
        Ok(Attachment {
            added_at_ms: Some(now),
            ..attachment
        })
    }

    /// Removes an attachment from the document.
    pub async fn detach(&self, input: &str, name: &str) -> Result<ShownDoc, AppError> {
        let (id, doc) = self.existing(input).await?;
        let (owned, now) = (name.to_owned(), now_ms());
        let removed = edit(&doc, move |tx| schema::remove_attachment(tx, &owned, now)).await?;
        if !removed {
            return Err(AppError::NoAttachment {
                id,
                name: name.to_owned(),
            });
        }
        let view = read(&doc, &id).await?;
        Ok(ShownDoc {
            id,
            view,
            heads: None,
        })
    }

    async fn attachment(&self, input: &str, name: &str) -> Result<Attachment, AppError> {
        let shown = self.show(input).await?;
        shown
            .view
            .attachments
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| AppError::NoAttachment {
                id: shown.id,
                name: name.to_owned(),
            })
    }

    /// Copies an attachment's bytes to `dest`, fetching them from a connected peer if needed.
    pub async fn save_attachment(&self, input: &str, name: &str, dest: &Path) -> Result<Value, AppError> {
        let a = self.attachment(input, name).await?;
        let held = match self.node.get_blob(a.hash).await {
            Ok(p) => p,
            Err(humansync::Error::BlobUnavailable(_)) => return Err(AppError::Unavailable(a.name)),
            Err(e) => return Err(e.into()),
        };
        let bytes =
            std::fs::copy(&held, dest).map_err(AppError::io(format!("writing {}", dest.display())))?;
        Ok(json!({ "path": dest, "bytes": bytes, "hash": a.hash.to_string(), "name": a.name }))
    }

    /// Whether the attachment's bytes are held here (or arrive within a short probe).
    pub async fn attachment_ready(&self, input: &str, name: &str) -> Result<bool, AppError> {
        let a = self.attachment(input, name).await?;
        match tokio::time::timeout(READY_PROBE, self.node.get_blob(a.hash)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(humansync::Error::BlobUnavailable(_))) | Err(_) => Ok(false),
            Ok(Err(e)) => Err(e.into()),
        }
    }

    /// Whether a blob's bytes are here (a fetch is started when they are not, and answered within
    /// [`HELD_PROBE`] when they arrive that fast).
    pub async fn blob_here(&self, hash: humansync::BlobHash) -> Result<bool, AppError> {
        match tokio::time::timeout(HELD_PROBE, self.node.get_blob(hash)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(humansync::Error::BlobUnavailable(_))) | Err(_) => Ok(false),
            Ok(Err(e)) => Err(e.into()),
        }
    }

    /// Sync status with pairing details.
    pub async fn status(&self) -> Result<StatusReport, AppError> {
        let status = self.node.sync_status().await?;
        let devices = self.node.devices().await?;
        let settings = Settings::load(&self.data).unwrap_or_default();
        Ok(StatusReport::new(
            self.node.id(),
            &self.node.addrs(),
            crate::status::paired_server(&self.data),
            settings.server_url,
            &status,
        )
        .with_devices(&devices))
    }

    /// Pairs with the server at `url` by `password`, or with the invitation link `url`, and
    /// remembers the server's URL.
    pub async fn pair(&self, url: &str, password: Option<&str>) -> Result<(), AppError> {
        let server_url = if url.trim_start().starts_with("humansync://") {
            let invitation =
                humansync::Invitation::parse(url).map_err(|e| AppError::BadRequest(e.to_string()))?;
            self.node.pair_with_invitation(url).await?;
            invitation.url
        } else {
            let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
                AppError::BadRequest("give the server password, or an invitation link".into())
            })?;
            self.node.pair_with(url, password).await?;
            url.to_owned()
        };
        let mut settings = Settings::load(&self.data)?;
        settings.server_url = Some(server_url);
        settings.setup_done = true;
        settings.save(&self.data)
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, AppError> {
    serde_json::to_value(value).map_err(|e| AppError::Internal(e.to_string()))
}

async fn read(doc: &Doc, id: &str) -> Result<DocView, AppError> {
    match doc.read(schema::read).await {
        Ok(v) => Ok(v?),
        Err(humansync::Error::Deleted(_)) => Err(AppError::NotFound(id.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// Runs a schema edit in one transaction, keeping the schema's typed error.
pub(crate) async fn edit<R, F>(doc: &Doc, f: F) -> Result<R, AppError>
where
    R: Send + 'static,
    F: FnOnce(&mut Transaction<'_>) -> Result<R, SchemaError> + Send + 'static,
{
    edit_with_heads(doc, f).await.map(|(r, _)| r)
}

/// As [`edit`], also returning the heads right after the edit (`Doc::change_with_heads`).
pub(crate) async fn edit_with_heads<R, F>(
    doc: &Doc,
    f: F,
) -> Result<(R, Vec<humansync::automerge::ChangeHash>), AppError>
where
    R: Send + 'static,
    F: FnOnce(&mut Transaction<'_>) -> Result<R, SchemaError> + Send + 'static,
{
    let slot: Arc<Mutex<Option<SchemaError>>> = Arc::default();
    let inner = slot.clone();
    let result = doc
        .change_with_heads(move |tx| {
            f(tx).map_err(|e| {
                let text = e.to_string();
                if let Ok(mut s) = inner.lock() {
                    *s = Some(e);
                }
                text
            })
        })
        .await;
    match result {
        Ok(r) => Ok(r),
        Err(humansync::Error::Deleted(_)) => Err(AppError::NotFound(doc.id().to_string())),
        Err(e) => {
            let typed = slot.lock().ok().and_then(|mut s| s.take());
            Err(typed.map(AppError::Schema).unwrap_or(AppError::Sync(e)))
        }
    }
}
