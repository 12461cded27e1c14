//! The app-facing node: the sync engine running inside the app (no daemon).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use ed25519_dalek::SigningKey;
use humansync_protocol::http::PairResponse;
use humansync_protocol::{BlobHash, DeviceId, DocId};
use humansync_sansio::{Core, CoreConfig, Event, Instant};
use tokio::sync::{broadcast, mpsc};

use crate::config::{HumanSyncConfig, RelayConfig};
use crate::driver::{self, Command, DriverParts};
use crate::pairing::{self, PairingState};
use crate::transport::{Gate, RelayChoice, Transport, TransportConfig};
use crate::{Doc, Error, NodeStats};

/// One peer in [`SyncStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer.
    pub peer: DeviceId,
    /// It has all our changes and we have all of its (reconciled, nothing outstanding).
    pub up_to_date: bool,
    /// Documents still being exchanged with it.
    pub outstanding: usize,
}

/// What [`Node::sync_status`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Connected peers.
    pub peers: Vec<PeerStatus>,
    /// Registered peers that mDNS currently announces on the local network (found without the
    /// server), connected or not.
    pub lan_peers: Vec<DeviceId>,
    /// Live documents held locally.
    pub docs: usize,
    /// Documents with an exchange in progress.
    pub docs_pending: usize,
    /// Referenced blobs not yet held locally.
    pub blobs_missing: usize,
    /// When a peer last became fully in sync with us.
    pub last_sync: Option<SystemTime>,
}

struct Inner {
    id: DeviceId,
    key: SigningKey,
    config: HumanSyncConfig,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    addrs: Vec<SocketAddr>,
    blobs_out: PathBuf,
    /// The HTTP client for the server's API (trusting `server_ca_cert`).
    http: Arc<crate::http_client::Http>,
    /// The server to ask `GET /devices`, once paired.
    paired: tokio::sync::watch::Sender<Option<String>>,
    /// The last walk of the storage directories ([`Node::stats_with_disk_age`]).
    disk: tokio::sync::Mutex<Option<(std::time::Instant, DiskFigures)>>,
}

/// What a walk of the storage directories found: store bytes, blob bytes, quarantined files.
type DiskFigures = (u64, u64, u64);

/// A running HumanSync node. Cheap to clone; all clones drive the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

/// Starts a node: loads or creates its identity, opens its store, binds iroh and starts syncing
/// in background tasks. Works offline and unpaired; pair later with [`Node::pair`].
pub async fn init(config: HumanSyncConfig) -> Result<Node, Error> {
    start(config, false).await
}

/// Starts a node; with `as_anchor` it is its own registry anchor (the server role, see
/// [`Node::init_anchor`]).
pub(crate) async fn start(config: HumanSyncConfig, as_anchor: bool) -> Result<Node, Error> {
    let storage = config.storage_path.clone();
    let http = Arc::new(crate::http_client::Http::new(config.server_ca_cert.as_deref())?);
    // Private to its owner: identity, documents, blobs and the app's socket live under it.
    crate::private_dir(&storage)
        .map_err(|e| Error::Storage(format!("cannot create {}: {e}", storage.display())))?;
    // HS-REST-2: the identity key is kept with the device's own data key (0600 files or the OS
    // keychain); keychain calls block, so off the runtime.
    let (id_storage, placement) = (storage.clone(), config.data_key.placement());
    let secret = tokio::task::spawn_blocking(move || {
        crate::keys::device::load_or_create(
            &id_storage,
            crate::keys::DeviceSecret::Identity,
            placement,
            || Ok(random32()),
        )
    })
    .await
    .map_err(|e| Error::Storage(format!("loading the identity key: {e}")))??;
    let secret: [u8; 32] = *secret;
    let key = SigningKey::from_bytes(&secret);
    let id = DeviceId::from(&key);
    let pairing = PairingState::load(&storage)?;
    let anchor = if as_anchor {
        crate::anchor::own_anchor(id, &pairing)?
    } else {
        pairing.anchor()
    };
    // HS-REST-2: the store is encrypted with the configured data key (migrated if plain).
    let (store_storage, data_key) = (storage.clone(), config.data_key.clone());
    // HS-REST-6: blobs are sealed under the same key (migrated from the plain store if needed).
    let (store, blob_key) =
        tokio::task::spawn_blocking(move || crate::at_rest::open_stores(&store_storage, &data_key))
            .await
            .map_err(|e| Error::Storage(format!("opening the store: {e}")))??;
    let mut startup = store.startup();
    // A new change log per start (HS-RESUME-1); 0 would turn resuming off.
    startup.log_epoch = u64::from_le_bytes(random32()[..8].try_into().unwrap_or([1; 8])) | 1;
    // A fresh actor per process lifetime: a crash can never reuse (actor, seq) (see CoreConfig::actor).
    let mut actor = id.as_bytes()[..16].to_vec();
    actor.extend_from_slice(&random32()[..16]);
    let interval = std::time::Duration::from_secs(config.interval_secs.max(1));
    let mut core_config = CoreConfig::new(id, actor, anchor);
    // The rescan interval is also the longest wait between dials of an unreachable device.
    core_config.dial.backoff_max_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    core_config.blob_grace_ms = u64::try_from(config.blob_grace.as_millis()).unwrap_or(u64::MAX);
    let gate = Gate::new(id);
    let (net_tx, net_rx) = mpsc::channel(4096);
    // Each sweep of the blob store asks the driver which blobs to keep (HS-BLOB-4).
    let (inputs_tx, inputs_rx) = mpsc::unbounded_channel::<driver::Input>();
    let keep_tx = inputs_tx.clone();
    let keep: crate::transport::KeepSet = Arc::new(move || {
        let keep_tx = keep_tx.clone();
        Box::pin(async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            keep_tx.send(driver::Input::KeepBlobs(reply)).ok()?;
            answer.await.ok()
        })
    });
    let transport_config = TransportConfig {
        secret_key: secret,
        bind_port: config.iroh_port,
        bind_addr: config.bind_addr,
        relay: match &config.relay {
            RelayConfig::Default => RelayChoice::Default,
            RelayConfig::Disabled => RelayChoice::Disabled,
            RelayConfig::Server => RelayChoice::Adopted,
            RelayConfig::Custom(url) => RelayChoice::Custom(
                url.parse()
                    .map_err(|e| Error::Network(format!("invalid relay URL {url:?}: {e}")))?,
            ),
        },
        mdns: config.mdns,
        // A gateway port mapping serves only a node that may be reached from outside.
        portmapper: !matches!(config.relay, RelayConfig::Disabled)
            && !config.bind_addr.is_some_and(|ip| ip.is_loopback()),
        blobs_dir: crate::transport::sealed_blobs::migrate::store_dir(&storage, blob_key.is_some()),
        blob_key,
        blob_gc: Some(crate::transport::BlobGc {
            interval: sweep_interval(config.blob_grace),
            keep,
        }),
    };
    let transport = Transport::bind(transport_config, gate.clone(), net_tx)
        .await
        .map_err(|e| Error::Network(e.to_string()))?;
    // HS-BLOB-4: held and pinned blobs are the store's tags; ages count the time we were down.
    let kept = transport.kept_blobs().await;
    let core = kept
        .map_err(|e| Error::Storage(e.to_string()))
        .and_then(|(held, pinned)| {
            startup.local_blobs = held;
            startup.pinned_blobs = pinned;
            startup.blob_ages = store.blob_ages(crate::store::wall_ms());
            Core::new(Instant(0), core_config, startup).map_err(|e| Error::Storage(e.to_string()))
        });
    let mut core = match core {
        Ok(core) => core,
        Err(e) => {
            transport.shutdown().await;
            return Err(e);
        }
    };
    let addrs = transport.addrs();
    let (commands_tx, commands_rx) = mpsc::channel(1024);
    let (events, _) = broadcast::channel(4096);
    // Blobs already held count as held (the want-list only asks for the rest).
    for hash in core.missing_blobs() {
        if transport.has_blob(hash).await {
            core.handle_blob_added(Instant(0), hash);
        }
    }
    let parts = DriverParts {
        core,
        transport,
        gate,
        store,
        net_events: net_rx,
        commands: commands_rx,
        events: events.clone(),
        pairing: pairing.clone(),
        inputs: (inputs_tx, inputs_rx),
    };
    tokio::spawn(driver::run(parts));
    // Discovery asks the server this device paired with (or the configured one) once paired.
    let server_url = config
        .server_url
        .clone()
        .or_else(|| pairing::load_server_url(&storage));
    let (paired, paired_rx) = tokio::sync::watch::channel(server_url.filter(|_| pairing.response.is_some()));
    tokio::spawn(crate::discovery::run(crate::discovery::DiscoveryParams {
        http: http.clone(),
        key: key.clone(),
        interval,
        server: paired_rx,
        commands: commands_tx.downgrade(),
    }));
    let node = Node {
        inner: Arc::new(Inner {
            id,
            key,
            blobs_out: storage.join("blobs-out"),
            config,
            http,
            commands: commands_tx,
            events,
            addrs,
            paired,
            disk: tokio::sync::Mutex::new(None),
        }),
    };
    if let Some(response) = pairing.response {
        let addrs = response
            .server_addrs
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        node.add_peer_addrs(response.server_node_id, addrs).await?;
    }
    Ok(node)
}

/// Time between two sweeps of the blob store: a quarter of the grace period, between 100 ms
/// and 10 minutes (a released blob's bytes are gone at most this long after its release).
fn sweep_interval(grace: std::time::Duration) -> std::time::Duration {
    (grace / 4).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(600),
    )
}

fn random32() -> [u8; 32] {
    let mut out = [0u8; 32];
    // getrandom only fails when the OS has no entropy source at all; a zero key is then refused below.
    if getrandom::fill(&mut out).is_err() {
        tracing::error!("no OS randomness available");
    }
    out
}

impl Node {
    /// This device's id (its iroh endpoint id).
    pub fn id(&self) -> DeviceId {
        self.inner.id
    }

    /// The local addresses iroh listens on.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.inner.addrs.clone()
    }

    /// A stream of events: documents changed locally or remotely, blobs arrived, peers came and went.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Pairs this device with the configured server using its password (first time only).
    pub async fn pair(&self, password: &str) -> Result<(), Error> {
        let url = self
            .inner
            .config
            .server_url
            .clone()
            .ok_or(Error::Pairing("no server_url configured".into()))?;
        self.pair_with(&url, password).await
    }

    /// Pairs this device with the server at `url` (for apps that learn the URL after [`init`],
    /// e.g. from the user); otherwise the same as [`Node::pair`]. The URL is remembered under
    /// `storage_path`: discovery keeps asking its `GET /devices` after restarts.
    ///
    /// The password never leaves this process (OPAQUE, SPEC.md §5.2), so plain `http://` to any
    /// address is safe; a wrong password is [`Error::WrongPassword`]. The server id is
    /// authenticated by the exchange and pinned (compared with `expected_server_id` when set).
    pub async fn pair_with(&self, url: &str, password: &str) -> Result<(), Error> {
        let name = device_name();
        let response = crate::login::pair(
            &self.inner.http,
            url,
            self.inner.id,
            &name,
            password,
            self.inner.config.expected_server_id,
        )
        .await?;
        self.finish_pairing(url, response).await
    }

    /// Pairs this device with the invitation link `link` (`humansync://pair?…`, SPEC.md §5.8):
    /// no password; the server id is pinned from the link, and the server's answer must be
    /// signed by it.
    pub async fn pair_with_invitation(&self, link: &str) -> Result<(), Error> {
        let invitation = crate::Invitation::parse(link).map_err(|e| Error::Pairing(e.to_string()))?;
        if let Some(expected) = self.inner.config.expected_server_id
            && expected != invitation.server
        {
            return Err(Error::Pairing(format!(
                "the invitation is for server {} but {expected} was expected",
                invitation.server
            )));
        }
        let response = crate::invite::redeem(
            &self.inner.http,
            &invitation,
            self.inner.id,
            &device_name(),
            now_ms(),
        )
        .await?;
        self.finish_pairing(&invitation.url, response).await
    }

    /// Mints a one-time invitation for another device (SPEC.md §5.8), valid `ttl_ms` (default
    /// 10 minutes). This device must be paired. Show [`crate::Invitation::to_link`] to the user,
    /// as text or as a QR code ([`crate::render_qr`]).
    pub async fn create_invitation(&self, ttl_ms: Option<u64>) -> Result<crate::Invitation, Error> {
        let url = self.paired_url()?;
        crate::invite::create(&self.inner.http, &url, &self.inner.key, ttl_ms).await
    }

    /// Revokes device `target` with the server password (HS-HTTP-4), over the server this
    /// device paired with, or `url` when given (a device that is not paired).
    pub async fn revoke_device(
        &self,
        target: DeviceId,
        password: &str,
        url: Option<&str>,
    ) -> Result<crate::protocol::http::RevokeResponse, Error> {
        let url = match url {
            Some(url) => url.to_owned(),
            None => self.paired_url()?,
        };
        let paired = self.inner.paired.borrow().is_some();
        let stored = PairingState::load(&self.inner.config.storage_path)
            .ok()
            .and_then(|p| p.anchor());
        let pin = self.inner.config.expected_server_id.or(stored);
        crate::login::revoke(
            &self.inner.http,
            &url,
            paired.then_some(&self.inner.key),
            target,
            password,
            pin,
        )
        .await
    }

    /// The server URL this device paired with.
    fn paired_url(&self) -> Result<String, Error> {
        self.inner
            .paired
            .borrow()
            .clone()
            .or_else(|| self.inner.config.server_url.clone())
            .ok_or(Error::Pairing("this device is not paired with a server".into()))
    }

    async fn finish_pairing(&self, url: &str, response: PairResponse) -> Result<(), Error> {
        pairing::check_answer(&response, self.inner.id, self.inner.config.expected_server_id)?;
        self.apply_pairing(response).await?;
        pairing::save_server_url(&self.inner.config.storage_path, url)
            .map_err(|e| Error::Storage(format!("cannot record the server URL: {e}")))?;
        self.inner.paired.send_replace(Some(url.to_owned()));
        Ok(())
    }

    /// Applies a pairing answer (what [`Node::pair`] does with the server's response): trusts the
    /// server as registry anchor, stores the signed records and dials the server.
    pub async fn apply_pairing(&self, response: PairResponse) -> Result<(), Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::ApplyPairing {
            response: Box::new(response),
            reply,
        })
        .await?;
        rx.await.map_err(|_| Error::Shutdown)??;
        if let Some(url) = &self.inner.config.server_url {
            self.inner.paired.send_replace(Some(url.clone()));
        }
        Ok(())
    }

    /// Tells the node where a peer can be reached (from GET /devices, or in tests).
    pub async fn add_peer_addrs(&self, peer: DeviceId, addrs: Vec<SocketAddr>) -> Result<(), Error> {
        self.send(Command::AddPeerAddrs { peer, addrs }).await
    }

    /// Opens (or creates) a document such as `notes/shopping-list`.
    pub async fn open_doc(&self, id: &str) -> Result<Doc, Error> {
        let id = DocId::new(id)?;
        if id.is_devices() {
            return Err(Error::RegistryDoc);
        }
        Ok(Doc {
            id,
            node: self.clone(),
        })
    }

    /// Deletes a document everywhere, for good (HS-DOC-5).
    pub async fn delete_doc(&self, id: &str) -> Result<(), Error> {
        let doc = DocId::new(id)?;
        self.app(humansync_sansio::AppRequest::Delete { doc }).await
    }

    /// Ids of live documents starting with `prefix`, sorted.
    pub async fn list_docs(&self, prefix: &str) -> Result<Vec<DocId>, Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::List {
            prefix: prefix.to_owned(),
            reply,
        })
        .await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Copies a file into the blob store and returns its hash; reference it from a document with
    /// [`Doc::put_blob`] and every peer fetches it. A blob no live document references is
    /// deleted after the grace period ([`HumanSyncConfig::blob_grace`]) unless pinned
    /// ([`Node::pin_blob`]).
    pub async fn store_blob(&self, path: &Path) -> Result<BlobHash, Error> {
        let path = std::path::absolute(path).map_err(|e| Error::Storage(e.to_string()))?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::StoreBlob { path, reply }).await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Pins a blob (HS-BLOB-4): it is kept on this device even when no document references it,
    /// until [`Node::unpin_blob`]. Pins are durable and local to this device; pinning a blob not
    /// held yet keeps it once it arrives (it is fetched only if a document references it, or
    /// with [`Node::get_blob`]).
    pub async fn pin_blob(&self, hash: BlobHash) -> Result<(), Error> {
        self.pin(hash, true).await
    }

    /// Unpins a blob: if no live document references it, it is deleted from this device when
    /// the grace period ([`HumanSyncConfig::blob_grace`]) has passed.
    pub async fn unpin_blob(&self, hash: BlobHash) -> Result<(), Error> {
        self.pin(hash, false).await
    }

    async fn pin(&self, hash: BlobHash, pin: bool) -> Result<(), Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::PinBlob { hash, pin, reply }).await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// A local path holding the blob's bytes, fetching it from a connected peer if missing.
    /// The copy in `blobs-out/` is an explicit export: with encryption at rest it is the only
    /// plaintext of the blob on disk (HS-REST-6). A blob whose sealed bytes fail authentication
    /// when exported is partial from then on: it is fetched again from a peer once.
    pub async fn get_blob(&self, hash: BlobHash) -> Result<PathBuf, Error> {
        let out = self.inner.blobs_out.join(hash.to_string());
        let mut attempt = 0;
        loop {
            let (reply, rx) = tokio::sync::oneshot::channel();
            self.send(Command::FetchBlob { hash, reply }).await?;
            rx.await.map_err(|_| Error::Shutdown)??;
            if out.exists() {
                return Ok(out);
            }
            std::fs::create_dir_all(&self.inner.blobs_out).map_err(|e| Error::Storage(e.to_string()))?;
            let (reply, rx) = tokio::sync::oneshot::channel();
            self.send(Command::ExportBlob {
                hash,
                to: out.clone(),
                reply,
            })
            .await?;
            match rx.await.map_err(|_| Error::Shutdown)? {
                Ok(()) => return Ok(out),
                Err(e) if attempt == 0 => {
                    tracing::warn!(%hash, error = %e, "exporting the blob failed; fetching what is missing again");
                    let _ = std::fs::remove_file(&out);
                    attempt += 1;
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&out);
                    return Err(e);
                }
            }
        }
    }

    /// How much of a blob is here now, without fetching it: the bytes of a transfer under way
    /// (started by [`Node::get_blob`] or by a document referencing it) as they arrive.
    pub async fn blob_progress(&self, hash: BlobHash) -> Result<crate::BlobProgress, Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::BlobProgress { hash, reply }).await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Peers connected, documents pending, last sync, and per peer whether it is up to date.
    pub async fn sync_status(&self) -> Result<SyncStatus, Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Status { reply }).await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Every device of the registry — this one, the server, the others, revoked ones too — with
    /// its name, whether it is online, up to date and on the LAN, and when it was last seen.
    pub async fn devices(&self) -> Result<Vec<crate::DeviceInfo>, Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Devices { reply }).await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Work counters since start: documents loaded, saves made durable, per-session bytes and
    /// round trips, totals since start, and the store's and blob store's size on disk (for
    /// benchmarks and metrics; the disk figures walk the directories, off the sync engine).
    pub async fn stats(&self) -> Result<NodeStats, Error> {
        self.stats_with_disk_age(std::time::Duration::ZERO).await
    }

    /// [`Node::stats`], with disk figures up to `max_age` old: the walk visits every stored
    /// file (~200 ms of system time at 100,000 documents), too much for every metrics scrape.
    /// Callers at the same time share one walk.
    pub async fn stats_with_disk_age(&self, max_age: std::time::Duration) -> Result<NodeStats, Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Stats { reply }).await?;
        let mut stats = rx.await.map_err(|_| Error::Shutdown)??;
        let mut last = self.inner.disk.lock().await;
        let figures = match *last {
            Some((at, figures)) if !max_age.is_zero() && at.elapsed() <= max_age => figures,
            _ => {
                let figures = self.walk_storage().await?;
                *last = Some((std::time::Instant::now(), figures));
                figures
            }
        };
        (stats.store_bytes, stats.blob_bytes, stats.quarantined_files) = figures;
        Ok(stats)
    }

    /// Walks the storage directories (off the sync engine and the runtime's workers).
    async fn walk_storage(&self) -> Result<DiskFigures, Error> {
        let storage = self.inner.config.storage_path.clone();
        tokio::task::spawn_blocking(move || {
            let store = storage.join("store");
            (
                crate::stats::disk_usage(&store),
                // A plain store in `blobs/`, a sealed one (encrypted at rest) in `blobs-sealed/`.
                crate::stats::disk_usage(&storage.join("blobs"))
                    + crate::stats::disk_usage(&storage.join("blobs-sealed")),
                crate::stats::files_in(&store.join("quarantine")),
            )
        })
        .await
        .map_err(|e| Error::Storage(format!("measuring the store: {e}")))
    }

    /// Stops syncing gracefully: sessions close, everything acknowledged is already on disk.
    pub async fn shutdown(self) -> Result<(), Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Shutdown { reply }).await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// The device's signing key (for signed HTTP requests such as GET /devices).
    pub fn signing_key(&self) -> &SigningKey {
        &self.inner.key
    }

    pub(crate) async fn send(&self, cmd: Command) -> Result<(), Error> {
        self.inner.commands.send(cmd).await.map_err(|_| Error::Shutdown)
    }

    /// Makes an app request of the core and waits until the core completes it (for a change or
    /// a delete: until it is durable, HS-SYNC-8).
    pub(crate) async fn app(&self, request: humansync_sansio::AppRequest) -> Result<(), Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::App { request, reply }).await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "device".to_owned())
}
