//! The store actor: answers every command of iroh-blobs' store protocol
//! (`iroh_blobs::api::proto::Command`) from the sealed files.
//!
//! One task owns the index of entries, the tags and the set of blobs protected from the running
//! sweep; imports and exports run as tasks on shared [`Entry`] handles. Temp tags are kept by a
//! private in-memory iroh-blobs store used only as their registry: it hands out temp tags whose
//! drop it counts, which a store outside iroh-blobs cannot build. Batches get the global scope
//! (their own temp tags are not scoped; nothing in HumanSync uses batches).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use iroh_blobs::api::blobs::{AddProgressItem, BlobStatus};
use iroh_blobs::api::proto::{
    BatchResponse, BlobDeleteRequest, Command, DeleteTagsRequest, ListTagsRequest, RenameTagRequest, Scope,
};
use iroh_blobs::api::tags::TagInfo;
use iroh_blobs::api::{Tag, TempTag};
use iroh_blobs::store::mem::MemStore;
use iroh_blobs::{BlobFormat, Hash, HashAndFormat};
use irpc::channel::{mpsc, oneshot};
use n0_future::StreamExt;
use tokio::task::JoinSet;

use super::cipher::BlobCipher;
use super::entry::Entry;
use super::error::SealedBlobError;
use super::export;
use super::files::{self, Layout};
use super::import::{self, Staged};
use super::state::{BlobState, MAX_STATE_LEN};
use super::tags::Tags;

/// What a finished task hands back to the actor.
enum Done {
    /// Nothing to do.
    Unit,
    /// A local import staged (or failed): install it and answer.
    Import(Box<Imported>),
}

/// A local import's result and where to answer.
struct Imported {
    staged: Result<Staged, SealedBlobError>,
    tx: mpsc::Sender<AddProgressItem>,
    format: BlobFormat,
}

/// The actor's state.
pub(crate) struct Actor {
    commands: tokio::sync::mpsc::Receiver<Command>,
    tasks: JoinSet<Done>,
    layout: Layout,
    cipher: Arc<BlobCipher>,
    entries: HashMap<Hash, Arc<Entry>>,
    tags: Tags,
    /// The registry of temp tags (see the module docs).
    temp: MemStore,
    /// Blobs written since the sweep under way marked the live ones (never deleted by it).
    protected: HashSet<Hash>,
    idle: Vec<oneshot::Sender<()>>,
}

impl Actor {
    /// Opens the store in `layout` (checks the key, loads tags and entries). Entries whose state
    /// fails authentication are moved to `quarantine/` (their blob is fetched again); staged
    /// imports a kill interrupted are removed.
    pub(crate) fn open(
        layout: Layout,
        cipher: Arc<BlobCipher>,
        commands: tokio::sync::mpsc::Receiver<Command>,
    ) -> Result<Actor, SealedBlobError> {
        layout.create()?;
        files::check_key(&layout, cipher.key_id())?;
        let tags = Tags::load(&cipher, &layout.tags)?;
        let entries = load_entries(&layout, &cipher)?;
        Ok(Actor {
            commands,
            tasks: JoinSet::new(),
            layout,
            cipher,
            entries,
            tags,
            temp: MemStore::new(),
            protected: HashSet::new(),
            idle: Vec::new(),
        })
    }

    /// Answers commands until a shutdown or until every client is gone.
    pub(crate) async fn run(mut self) {
        loop {
            tokio::select! {
                command = self.commands.recv() => {
                    let Some(command) = command else {
                        self.flush();
                        return;
                    };
                    if let Some(tx) = self.handle(command).await {
                        self.flush();
                        tx.send(()).await.ok();
                        return;
                    }
                }
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    match done {
                        Ok(Done::Import(imported)) => self.finish_import(*imported).await,
                        Ok(Done::Unit) => {}
                        Err(e) => tracing::warn!(error = %e, "a blob store task failed"),
                    }
                    if self.tasks.is_empty() {
                        for tx in self.idle.drain(..) {
                            tx.send(()).await.ok();
                        }
                    }
                }
            }
        }
    }

    /// Writes tags and every entry's state (sync_db, shutdown).
    fn sync(&mut self) -> Result<(), SealedBlobError> {
        self.tags.save(&self.cipher, &self.layout.tags)?;
        for entry in self.entries.values() {
            entry.persist()?;
        }
        Ok(())
    }

    fn flush(&mut self) {
        if let Err(e) = self.sync() {
            tracing::warn!(error = %e, "saving the blob store on shutdown failed");
        }
    }

    fn entry(&mut self, hash: Hash) -> Arc<Entry> {
        let dir = self.layout.entry(&self.cipher.entry_name(&hash));
        self.entries
            .entry(hash)
            .or_insert_with(|| Entry::empty(hash, dir, self.cipher.clone()))
            .clone()
    }

    fn existing(&mut self, hash: Hash) -> Option<Arc<Entry>> {
        if hash == Hash::EMPTY {
            return Some(self.entry(hash));
        }
        self.entries.get(&hash).cloned()
    }

    fn spawn(&mut self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(async move {
            task.await;
            Done::Unit
        });
    }

    /// A temp tag counted by the registry (leaked, i.e. kept until exit, if it is gone).
    async fn temp_tag(&self, value: HashAndFormat) -> TempTag {
        match self.temp.tags().temp_tag(value).await {
            Ok(tag) => tag,
            Err(_) => TempTag::new(value, None),
        }
    }

    /// Answers one command; `Some` after a shutdown request (answer it after flushing).
    async fn handle(&mut self, command: Command) -> Option<oneshot::Sender<()>> {
        match command {
            Command::ImportBao(msg) => {
                let entry = self.entry(msg.inner.hash);
                self.protected.insert(msg.inner.hash);
                self.spawn(import::bao(entry, msg.inner.size, msg.rx, msg.tx));
            }
            Command::Observe(msg) => {
                let entry = self.entry(msg.inner.hash);
                self.spawn(export::observe(entry, msg.tx));
            }
            Command::ImportBytes(msg) => {
                let (data, format, tx) = (msg.inner.data, msg.inner.format, msg.tx);
                self.stage(
                    format,
                    tx,
                    move |cipher, dir| import::stage_bytes(cipher, dir, &data),
                    None,
                );
            }
            Command::ImportByteStream(msg) => {
                let (format, tx, mut rx) = (msg.inner.format, msg.tx, msg.rx);
                let (cipher, layout) = (self.cipher.clone(), self.layout.clone());
                self.tasks.spawn(async move {
                    let staged = match import::collect_stream(&mut rx, &tx).await {
                        Ok(data) => {
                            stage_blocking(cipher, layout, Some(data.len() as u64), &tx, move |c, d| {
                                import::stage_bytes(c, d, &data)
                            })
                            .await
                        }
                        Err(e) => Err(SealedBlobError::io("receive", "byte stream", e)),
                    };
                    Done::Import(Box::new(Imported { staged, tx, format }))
                });
            }
            Command::ImportPath(msg) => {
                let (path, format, tx) = (msg.inner.path, msg.inner.format, msg.tx);
                let size = std::fs::metadata(&path).ok().map(|m| m.len());
                self.stage(
                    format,
                    tx,
                    move |cipher, dir| import::stage_file(cipher, dir, &path),
                    size,
                );
            }
            Command::ExportBao(msg) => {
                let entry = self.existing(msg.inner.hash);
                self.spawn(export::bao(entry, msg.inner.ranges, msg.tx));
            }
            Command::ExportRanges(msg) => {
                let entry = self.existing(msg.inner.hash);
                self.spawn(export::ranges(entry, msg.inner.ranges, msg.tx));
            }
            Command::ExportPath(msg) => {
                let entry = self.existing(msg.inner.hash);
                self.spawn(export::path(entry, msg.inner.target, msg.tx));
            }
            Command::BlobStatus(msg) => {
                let status = match self.existing(msg.inner.hash) {
                    Some(entry) => entry.status(),
                    None => BlobStatus::NotFound,
                };
                msg.tx.send(status).await.ok();
            }
            Command::ListBlobs(msg) => {
                let hashes: Vec<Hash> = self
                    .entries
                    .values()
                    .filter(|e| e.is_stored() && e.hash != Hash::EMPTY)
                    .map(|e| e.hash)
                    .collect();
                let tx = msg.tx;
                self.spawn(async move {
                    for hash in hashes {
                        if tx.send(Ok(hash)).await.is_err() {
                            break;
                        }
                    }
                });
            }
            Command::DeleteBlobs(msg) => {
                let BlobDeleteRequest { hashes, force } = msg.inner;
                let mut result = Ok(());
                for hash in hashes {
                    if !force && self.protected.contains(&hash) {
                        continue;
                    }
                    if let Some(entry) = self.entries.remove(&hash)
                        && let Err(e) = entry.remove()
                    {
                        tracing::warn!(error = %e, "deleting a blob failed");
                        result = Err(iroh_blobs::api::Error::from(e.into_io()));
                    }
                }
                msg.tx.send(result).await.ok();
            }
            Command::ClearProtected(msg) => {
                self.protected.clear();
                msg.tx.send(Ok(())).await.ok();
            }
            Command::ListTags(msg) => {
                let ListTagsRequest {
                    from,
                    to,
                    raw,
                    hash_seq,
                } = msg.inner;
                let list = self
                    .tags
                    .range(&from, &to)
                    .filter(|(_, v)| (raw && v.format.is_raw()) || (hash_seq && v.format.is_hash_seq()))
                    .map(|(name, v)| {
                        Ok(TagInfo {
                            name: name.clone(),
                            format: v.format,
                            hash: v.hash,
                        })
                    })
                    .collect();
                msg.tx.send(list).await.ok();
            }
            Command::SetTag(msg) => {
                self.tags.map.insert(msg.inner.name, msg.inner.value);
                self.tags.touch();
                msg.tx.send(Ok(())).await.ok();
            }
            Command::CreateTag(msg) => {
                let map = &self.tags.map;
                let tag = Tag::auto(std::time::SystemTime::now(), |name| map.contains_key(name));
                self.tags.map.insert(tag.clone(), msg.inner.value);
                self.tags.touch();
                msg.tx.send(Ok(tag)).await.ok();
            }
            Command::DeleteTags(msg) => {
                let DeleteTagsRequest { from, to } = msg.inner;
                let doomed: Vec<Tag> = self.tags.range(&from, &to).map(|(t, _)| t.clone()).collect();
                for tag in &doomed {
                    self.tags.map.remove(tag);
                }
                if !doomed.is_empty() {
                    self.tags.touch();
                }
                msg.tx.send(Ok(doomed.len() as u64)).await.ok();
            }
            Command::RenameTag(msg) => {
                let RenameTagRequest { from, to } = msg.inner;
                let result = match self.tags.map.remove(&from) {
                    Some(value) => {
                        self.tags.map.insert(to, value);
                        self.tags.touch();
                        Ok(())
                    }
                    None => Err(iroh_blobs::api::Error::io(
                        std::io::ErrorKind::NotFound,
                        format!("tag not found: {from:?}"),
                    )),
                };
                msg.tx.send(result).await.ok();
            }
            Command::CreateTempTag(msg) => {
                let tag = self.temp_tag(msg.inner.value).await;
                msg.tx.send(tag).await.ok();
            }
            Command::ListTempTags(msg) => {
                let mut list = Vec::new();
                if let Ok(mut stream) = self.temp.tags().list_temp_tags().await {
                    while let Some(value) = stream.next().await {
                        list.push(value);
                    }
                }
                msg.tx.send(list).await.ok();
            }
            Command::Batch(msg) => {
                let (tx, mut rx) = (msg.tx, msg.rx);
                tx.send(Scope::default()).await.ok();
                self.spawn(async move {
                    while let Ok(Some(item)) = rx.recv().await {
                        let (BatchResponse::Drop(_) | BatchResponse::Ping) = item;
                    }
                });
            }
            Command::SyncDb(msg) => {
                let result = self.sync().map_err(|e| iroh_blobs::api::Error::from(e.into_io()));
                msg.tx.send(result).await.ok();
            }
            Command::WaitIdle(msg) => {
                if self.tasks.is_empty() {
                    msg.tx.send(()).await.ok();
                } else {
                    self.idle.push(msg.tx);
                }
            }
            Command::Shutdown(msg) => return Some(msg.tx),
        }
        None
    }

    /// Stages a local import on a blocking thread; the result comes back as [`Done::Import`].
    fn stage(
        &mut self,
        format: BlobFormat,
        tx: mpsc::Sender<AddProgressItem>,
        stage: impl FnOnce(&BlobCipher, &std::path::Path) -> Result<Staged, SealedBlobError> + Send + 'static,
        size: Option<u64>,
    ) {
        let (cipher, layout) = (self.cipher.clone(), self.layout.clone());
        self.tasks.spawn(async move {
            let staged = stage_blocking(cipher, layout, size, &tx, stage).await;
            Done::Import(Box::new(Imported { staged, tx, format }))
        });
    }

    /// Installs a staged import and answers with a temp tag.
    async fn finish_import(&mut self, imported: Imported) {
        let Imported { staged, tx, format } = imported;
        let staged = match staged {
            Ok(staged) => staged,
            Err(e) => {
                tracing::warn!(error = %e, "importing a blob failed");
                tx.send(AddProgressItem::Error(e.into_io())).await.ok();
                return;
            }
        };
        let entry = self.entry(staged.hash);
        self.protected.insert(staged.hash);
        let installed = if entry.bitfield().is_complete() {
            files::remove_dir(&staged.dir)
        } else {
            entry.install(&staged.dir, staged.size)
        };
        let item = match installed {
            Ok(()) => {
                let value = HashAndFormat {
                    hash: staged.hash,
                    format,
                };
                AddProgressItem::Done(self.temp_tag(value).await)
            }
            Err(e) => {
                files::remove_dir(&staged.dir).ok();
                AddProgressItem::Error(e.into_io())
            }
        };
        tx.send(item).await.ok();
    }
}

/// Runs `stage` in a fresh staging directory on a blocking thread, reporting the size and the
/// end of the copy on `tx`.
async fn stage_blocking(
    cipher: Arc<BlobCipher>,
    layout: Layout,
    size: Option<u64>,
    tx: &mpsc::Sender<AddProgressItem>,
    stage: impl FnOnce(&BlobCipher, &std::path::Path) -> Result<Staged, SealedBlobError> + Send + 'static,
) -> Result<Staged, SealedBlobError> {
    if let Some(size) = size {
        tx.send(AddProgressItem::Size(size)).await.ok();
    }
    let tmp = layout.tmp.clone();
    let staged = tokio::task::spawn_blocking(move || {
        let dir = layout.staging()?;
        let staged = stage(&cipher, &dir);
        if staged.is_err() {
            files::remove_dir(&dir).ok();
        }
        staged
    })
    .await
    .map_err(|e| SealedBlobError::io("stage an import in", tmp, std::io::Error::other(e)))?;
    if staged.is_ok() {
        tx.send(AddProgressItem::CopyDone).await.ok();
    }
    staged
}

/// Reads every entry's state. An entry without a state (a delete or a first transfer a kill
/// interrupted) is removed; one whose state fails authentication or is malformed is moved to
/// `quarantine/` with an error naming the file.
fn load_entries(
    layout: &Layout,
    cipher: &Arc<BlobCipher>,
) -> Result<HashMap<Hash, Arc<Entry>>, SealedBlobError> {
    let mut out = HashMap::new();
    let list =
        std::fs::read_dir(&layout.entries).map_err(|e| SealedBlobError::io("list", &layout.entries, e))?;
    for item in list {
        let dir = item
            .map_err(|e| SealedBlobError::io("list", &layout.entries, e))?
            .path();
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let path = dir.join("state");
        let bytes = match files::read_bounded(&path, MAX_STATE_LEN) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                files::remove_dir(&dir)?;
                continue;
            }
            Err(e @ SealedBlobError::Malformed { .. }) => {
                quarantine(layout, &dir, &name, &e)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        match BlobState::decode(cipher, &name, &path, &bytes) {
            Ok(state) => {
                out.insert(state.hash, Entry::loaded(state, dir, cipher.clone()));
            }
            Err(e) => quarantine(layout, &dir, &name, &e)?,
        }
    }
    Ok(out)
}

fn quarantine(
    layout: &Layout,
    dir: &std::path::Path,
    name: &str,
    error: &SealedBlobError,
) -> Result<(), SealedBlobError> {
    tracing::error!(%error, "blob entry set aside in quarantine; the blob is fetched again from a peer");
    let to = layout.quarantine.join(name);
    files::remove_dir(&to)?;
    std::fs::rename(dir, &to).map_err(|e| SealedBlobError::io("rename", dir, e))
}
