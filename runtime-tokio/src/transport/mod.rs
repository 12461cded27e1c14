//! The iroh transport: one endpoint serving sync sessions ([`humansync_protocol::SYNC_ALPN`])
//! and blobs ([`iroh_blobs::ALPN`]), gated by device id.
//!
//! - Gating (HS-GATE-1..4): an endpoint hook decides every connection, incoming and
//!   outgoing, on every ALPN, right after the TLS handshake, from the [`Gate`]. A refused
//!   connection is closed with the gate's code and produces no [`NetEvent`]. The blob
//!   provider re-checks the gate for every connection and request.
//! - Sessions (HS-TRANSPORT-2): the dialer opens one bidirectional stream and writes first;
//!   the acceptor takes that one stream; any further stream is refused with CLOSE_PROTOCOL.
//!   Received bytes go to the driver as [`NetEvent::Bytes`]; the core does the framing.
//! - Revocation (HS-GATE-4): [`Transport::disconnect_peer`] closes every connection with the
//!   peer on every ALPN at once and discards queued data.
//! - Blobs (HS-BLOB-2): an iroh-blobs store — the sealed store ([`sealed_blobs`], HS-REST-6)
//!   when a data key is configured, else iroh-blobs' plain file store; fetches ask only for
//!   missing ranges, so an interrupted transfer resumes.
//!
//! Driving contract: the driver owns the receiving end of the event channel and MUST keep
//! draining it; a full channel pauses reading from every session (QUIC flow control then
//! slows the peers down). The driver MUST call [`Gate::update`] and then
//! [`Transport::disconnect_peer`] whenever the registry takes admission away from a peer.

#![warn(missing_docs)]

mod blob_store;
mod blobs;
mod config;
pub mod congestion;
mod convert;
mod error;
mod event;
mod gate;
mod hooks;
mod lan;
mod provider_gate;
mod queue;
pub mod sealed_blobs;
mod session;
mod shared;
mod table;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use humansync_protocol::{BlobHash, CloseCode, DeviceId, SYNC_ALPN};
use humansync_sansio::gate::Admission;
use humansync_sansio::{ConnId, Role};
use iroh::address_lookup::MemoryLookup;
use iroh::endpoint::ConnectionError;
use iroh::protocol::Router;
use iroh::{Endpoint, EndpointAddr, TransportAddr};
use iroh_mdns_address_lookup::MdnsAddressLookup;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use blobs::FetchStats;
pub use config::{BlobGc, KeepSet, RelayChoice, TransportConfig};
pub use error::{BoxError, TransportError};
pub use event::NetEvent;
pub use gate::Gate;
pub use provider_gate::BlobProviderStats;
pub use queue::SEND_QUEUE_LIMIT;
pub use session::READ_CHUNK;

use convert::{close_code, device_id, endpoint_id};
use queue::{CLOSE_LINGER, PushError};
use shared::Shared;
use table::{Table, close_with};

/// The mDNS service name: HumanSync nodes only look for each other, not for every iroh app.
pub const MDNS_SERVICE: &str = "humansync";

/// How long [`Transport::shutdown`] lets sessions report their Closed events.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// How long [`Transport::shutdown`] waits for the endpoint to close its connections gracefully.
const ROUTER_CLOSE_LIMIT: Duration = Duration::from_secs(2);
/// How long [`Transport::shutdown`] waits for the blob store to close.
const BLOB_STORE_CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// The iroh transport. See the module docs for the contract.
#[derive(Debug)]
pub struct Transport {
    endpoint: Endpoint,
    router: Router,
    shared: Arc<Shared>,
    store: Arc<blob_store::BlobStore>,
    address_book: MemoryLookup,
    provider: Arc<provider_gate::Counters>,
    provider_task: JoinHandle<()>,
    /// The relay every device of the deployment uses: given to dials as the peer's relay.
    relay_hint: std::sync::Mutex<Option<iroh::RelayUrl>>,
    /// False with [`RelayChoice::Disabled`]: [`Transport::adopt_relay`] then does nothing.
    relays_enabled: bool,
    lan: Arc<lan::LanPeers>,
    /// Follows mDNS announcements; aborted when the transport goes away.
    _lan_task: Option<n0_future::task::AbortOnDropHandle<()>>,
}

impl Transport {
    /// Opens the blob store, binds the endpoint and starts serving both ALPNs.
    ///
    /// `gate` MUST be built for this key's device id. Events for every session go to `events`.
    pub async fn bind(
        config: TransportConfig,
        gate: Gate,
        events: mpsc::Sender<NetEvent>,
    ) -> Result<Transport, TransportError> {
        let me = device_id(&iroh::SecretKey::from_bytes(&config.secret_key).public())
            .ok_or(TransportError::InvalidId)?;
        if gate.me() != me {
            return Err(TransportError::GateMismatch);
        }
        let store = Arc::new(
            blob_store::BlobStore::open(
                config.blobs_dir.clone(),
                config.blob_key.clone(),
                config.blob_gc.clone(),
            )
            .await?,
        );
        let table = Table::default();
        let address_book = MemoryLookup::new();
        let mut builder = config
            .endpoint_builder()?
            .hooks(hooks::GateHooks {
                gate: gate.clone(),
                table: table.clone(),
            })
            .address_lookup(address_book.clone());
        let lan = Arc::new(lan::LanPeers::default());
        let mut lan_task = None;
        if config.mdns {
            let endpoint_id = endpoint_id(&me).ok_or(TransportError::InvalidId)?;
            let mdns = MdnsAddressLookup::builder()
                .service_name(MDNS_SERVICE)
                .build(endpoint_id)
                .map_err(|e| TransportError::Bind(Box::new(e)))?;
            lan_task = Some(lan::watch(&mdns, lan.clone()));
            builder = builder.address_lookup(lan::LanLookup::new(mdns, lan.clone()));
        }
        let endpoint = builder
            .bind()
            .await
            .map_err(|e| TransportError::Bind(Box::new(e)))?;
        let shared = Arc::new(Shared::new(gate.clone(), table, events));
        let provider = Arc::new(provider_gate::Counters::default());
        let (provider_events, provider_gate_task) = provider_gate::provider_gate(gate, provider.clone());
        let provider_task = tokio::spawn(provider_gate_task);
        let router = Router::builder(endpoint.clone())
            .accept(
                SYNC_ALPN,
                session::SyncProtocol {
                    shared: shared.clone(),
                },
            )
            .accept(
                iroh_blobs::ALPN,
                blob_store::BlobsHandler {
                    store: store.clone(),
                    events: provider_events,
                },
            )
            .spawn();
        Ok(Transport {
            endpoint,
            router,
            shared,
            store,
            address_book,
            provider,
            provider_task,
            relays_enabled: config.relay != RelayChoice::Disabled,
            relay_hint: std::sync::Mutex::new(match config.relay {
                RelayChoice::Custom(url) => Some(url),
                _ => None,
            }),
            lan,
            _lan_task: lan_task,
        })
    }

    /// Our device id (the endpoint's public key, HS-ID-1).
    pub fn id(&self) -> DeviceId {
        self.shared.gate.me()
    }

    /// Our direct addresses, for GET /devices, pairing responses and tests. Sockets bound to
    /// an unspecified address are listed per local interface address, when iroh knows them.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        let known: Vec<SocketAddr> = self.endpoint.addr().ip_addrs().copied().collect();
        if !known.is_empty() {
            return known;
        }
        self.endpoint
            .bound_sockets()
            .into_iter()
            .filter(|a| !a.ip().is_unspecified())
            .collect()
    }

    /// Adds `url` (the relay the pairing server announces, HS-RELAY-3) to the relays this
    /// endpoint may use as its home relay, and gives it to later dials as every peer's relay.
    /// Returns false, doing nothing, when relays are disabled.
    pub async fn adopt_relay(&self, url: iroh::RelayUrl) -> bool {
        if !self.relays_enabled {
            return false;
        }
        *self.relay_hint.lock().unwrap_or_else(|e| e.into_inner()) = Some(url.clone());
        // No QUIC address discovery: the embedded relay serves HTTP only.
        let config = iroh::RelayConfig::new(url.clone(), None);
        self.endpoint.insert_relay(url, Arc::new(config)).await;
        true
    }

    /// The relay given to dials as the peer's relay, if any.
    fn relay_hint(&self) -> Option<iroh::RelayUrl> {
        self.relay_hint.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The home relay this endpoint is connected to, and so reachable through, if any (one it
    /// chose but is not connected to, e.g. because the relay refuses it, does not count).
    pub fn home_relay(&self) -> Option<iroh::RelayUrl> {
        use iroh::Watcher;
        let mut status = self.endpoint.home_relay_status();
        status
            .get()
            .into_iter()
            .find(|status| status.is_connected())
            .map(|status| status.url().clone())
    }

    /// Peers mDNS currently announces on the local network, with their addresses.
    pub fn lan_peers(&self) -> std::collections::BTreeMap<DeviceId, Vec<SocketAddr>> {
        self.lan.snapshot()
    }

    /// Wakes (`changed()`) whenever [`Transport::lan_peers`] changes.
    pub fn lan_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.lan.changes()
    }

    /// The admission gate this transport consults.
    pub fn gate(&self) -> &Gate {
        &self.shared.gate
    }

    /// Dials `peer` and opens the session stream (HS-TRANSPORT-2). `addrs` may be empty: the
    /// address book (earlier dials), mDNS and the relay are then used to find the peer.
    ///
    /// On success the session is registered under the returned id and its task emits
    /// [`NetEvent::Connected`] with [`Role::Dialer`]; the driver's core then sends Hello. If the
    /// peer's gate refuses us, the session still starts and then reports
    /// [`NetEvent::Closed`] with the peer's code (NOT_REGISTERED or REVOKED), with no bytes;
    /// if the refusal wins the race with the handshake, this returns
    /// [`TransportError::ClosedByPeer`] with that code instead.
    pub async fn dial(&self, peer: DeviceId, addrs: Vec<SocketAddr>) -> Result<ConnId, TransportError> {
        // HS-GATE-3: never talk to a peer we do not admit (the hook would refuse it after the handshake anyway).
        if let Admission::Reject(code) = self.shared.gate.admission(&peer) {
            return Err(TransportError::NotAdmitted(code));
        }
        let conn = self.connect(peer, addrs, SYNC_ALPN).await?;
        let (send, recv) = conn.open_bi().await.map_err(|e| error::connection_error(&e))?;
        session::start_session(&self.shared, conn, send, recv, peer, Role::Dialer)
    }

    /// Remembers direct addresses of `peer` (from pairing, GET /devices, an earlier session)
    /// so that later dials and blob fetches can find it by id alone.
    pub fn add_peer_addrs(&self, peer: DeviceId, addrs: Vec<SocketAddr>) {
        if let Some(id) = endpoint_id(&peer) {
            let addr = EndpointAddr::new(id).with_addrs(addrs.into_iter().map(TransportAddr::Ip));
            if !addr.is_empty() {
                self.address_book.add_endpoint_info(addr);
            }
        }
    }

    /// Connects to `peer` on `alpn`, remembering `addrs` in the address book.
    async fn connect(
        &self,
        peer: DeviceId,
        addrs: Vec<SocketAddr>,
        alpn: &[u8],
    ) -> Result<iroh::endpoint::Connection, TransportError> {
        let id = endpoint_id(&peer).ok_or(TransportError::InvalidId)?;
        self.add_peer_addrs(peer, addrs.clone());
        let mut addr = EndpointAddr::new(id).with_addrs(addrs.into_iter().map(TransportAddr::Ip));
        // With our own relay, every device of the deployment uses it as its home relay.
        if let Some(relay) = self.relay_hint() {
            addr = addr.with_relay_url(relay);
        }
        self.endpoint
            .connect(addr, alpn)
            .await
            .map_err(|e| error::connect_error(e, &self.shared.gate, &peer))
    }

    /// The transport addresses iroh knows for `peer`, each marked active or not (for logs).
    async fn known_paths(&self, peer: DeviceId) -> String {
        let Some(info) = (match endpoint_id(&peer) {
            Some(id) => self.endpoint.remote_info(id).await,
            None => None,
        }) else {
            return "none".into();
        };
        let paths: Vec<String> = info
            .addrs()
            .map(|a| format!("{:?} {:?}", a.addr(), a.usage()))
            .collect();
        paths.join(", ")
    }

    /// Queues `bytes` (one or more whole frames) on the session stream, in order.
    ///
    /// Never waits: fails with [`TransportError::QueueFull`] when more than
    /// [`SEND_QUEUE_LIMIT`] bytes are queued (the peer is not reading; the driver should close
    /// the session with CLOSE_LIMIT), and with [`TransportError::UnknownConn`] once the session
    /// is closing or closed.
    pub fn send(&self, conn: ConnId, bytes: Vec<u8>) -> Result<(), TransportError> {
        let len = bytes.len();
        let result = self
            .shared
            .table
            .with_session(conn, |entry| entry.queue.push(bytes));
        match result {
            None | Some(Err(PushError::Closed)) => Err(TransportError::UnknownConn(conn)),
            Some(Err(PushError::Full(queued))) => Err(TransportError::QueueFull { conn, queued, len }),
            Some(Ok(())) => Ok(()),
        }
    }

    /// Like [`Transport::send`], but waits for room in the queue instead of failing.
    pub async fn send_wait(&self, conn: ConnId, bytes: Vec<u8>) -> Result<(), TransportError> {
        let len = bytes.len();
        let queue = self
            .shared
            .table
            .with_session(conn, |entry| entry.queue.clone())
            .ok_or(TransportError::UnknownConn(conn))?;
        match queue.push_wait(bytes).await {
            Ok(()) => Ok(()),
            Err(PushError::Closed) => Err(TransportError::UnknownConn(conn)),
            Err(PushError::Full(queued)) => Err(TransportError::QueueFull { conn, queued, len }),
        }
    }

    /// Bytes queued on a session and not yet handed to QUIC; `None` if it is not open.
    pub fn queued_bytes(&self, conn: ConnId) -> Option<usize> {
        self.shared.table.with_session(conn, |entry| entry.queue.queued())
    }

    /// Closes a session with `code`: what is already queued (typically a Close frame,
    /// HS-CLOSE-2) is written first, then the stream is finished and the connection closed with
    /// `code` as the QUIC application code. Bounded: after [`CLOSE_LINGER`] plus a margin the
    /// connection is closed regardless. The session then reports [`NetEvent::Closed`] with `code`.
    pub fn close(&self, conn: ConnId, code: CloseCode) {
        let found = self.shared.table.with_session(conn, |entry| {
            entry.queue.close(code);
            (entry.conn.clone(), entry.local_close.clone())
        });
        if let Some((quic, local)) = found {
            tokio::spawn(async move {
                tokio::select! {
                    _ = quic.closed() => {}
                    _ = tokio::time::sleep(CLOSE_LINGER + Duration::from_millis(500)) => close_with(&quic, &local, code),
                }
            });
        }
    }

    /// Closes every connection with `peer` on every ALPN (sessions, blob transfers both ways)
    /// at once with `code`, discarding queued data (HS-GATE-4). Call after [`Gate::update`],
    /// so that the peer cannot reconnect. Returns how many connections were open.
    pub fn disconnect_peer(&self, peer: DeviceId, code: CloseCode) -> usize {
        self.shared.table.disconnect_peer(&peer, code)
    }

    /// Closes every connection with every peer at once with `code` (HS-GATE-5: a node that
    /// finds itself revoked closes all sessions). The endpoint keeps running.
    pub fn disconnect_all(&self, code: CloseCode) {
        self.shared.table.close_all(code);
    }

    /// UDP bytes (sent, received) of the QUIC connection carrying session `conn`, if it is open.
    pub fn session_udp_bytes(&self, conn: ConnId) -> Option<(u64, u64)> {
        self.shared.table.with_session(conn, |entry| {
            let stats = entry.conn.stats();
            (stats.udp_tx.bytes, stats.udp_rx.bytes)
        })
    }

    /// Whether the session's QUIC connection currently sends over a relay rather than a direct path.
    pub fn session_relayed(&self, conn: ConnId) -> Option<bool> {
        self.shared.table.with_session(conn, |entry| {
            entry
                .conn
                .paths()
                .iter()
                .find(|p| p.is_selected())
                .is_some_and(|p| p.is_relay())
        })
    }

    /// The direct addresses (`ip:port`) each admitted peer was last seen at: its live
    /// connections' paths, else those of its last connection (the server's DeviceInfo.addrs, HS-HTTP-2).
    pub fn peer_addrs(&self) -> std::collections::BTreeMap<DeviceId, Vec<SocketAddr>> {
        self.shared.table.last_seen_addrs()
    }

    /// The ids of the open sessions with `peer`.
    pub fn sessions_with(&self, peer: DeviceId) -> Vec<ConnId> {
        self.shared.table.sessions_of(&peer)
    }

    /// Imports the file at `path` into the blob store (a copy), keeps it with a tag and makes it
    /// durable before returning its hash (HS-BLOB-1).
    pub async fn add_blob(&self, path: &Path) -> Result<BlobHash, TransportError> {
        self.add_blob_held(path).await.map(|(hash, _)| hash)
    }

    /// [`Transport::add_blob`], also returning a temp tag that protects the blob from every
    /// sweep while it is held (until the driver has recorded the blob as kept, HS-BLOB-4).
    pub(crate) async fn add_blob_held(
        &self,
        path: &Path,
    ) -> Result<(BlobHash, iroh_blobs::api::TempTag), TransportError> {
        // The copy and its outboard (a few bytes per 16 KiB).
        let needed = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        self.store
            .call(needed, |store| async move { blobs::add(&store, path).await })
            .await
    }

    /// True if the whole blob is in the local store.
    pub async fn has_blob(&self, hash: BlobHash) -> bool {
        blobs::has(&self.store.get(), hash).await
    }

    /// Fetches the blob from `from` over the blobs ALPN, asking only for the ranges missing
    /// locally, so an interrupted fetch resumes (HS-BLOB-2). Completes once the blob is whole,
    /// verified, tagged and durable. Fails with [`TransportError::NotAdmitted`] if our gate
    /// does not admit `from`; with [`TransportError::ClosedByPeer`] if the provider closed the
    /// connection with a code (its gate: NOT_REGISTERED or REVOKED, HS-BLOB-3; iroh-blobs'
    /// own refusal code ERR_PERMISSION is 1 as well); with [`TransportError::Fetch`] otherwise.
    pub async fn fetch_blob(&self, hash: BlobHash, from: DeviceId) -> Result<FetchStats, TransportError> {
        self.fetch_blob_with_progress(hash, from, |_| {}).await
    }

    /// [`Transport::fetch_blob`], calling `on_progress` with the payload bytes received so far in this call.
    pub async fn fetch_blob_with_progress(
        &self,
        hash: BlobHash,
        from: DeviceId,
        on_progress: impl FnMut(u64) + Send,
    ) -> Result<FetchStats, TransportError> {
        if let Admission::Reject(code) = self.shared.gate.admission(&from) {
            return Err(TransportError::NotAdmitted(code));
        }
        if blobs::has(&self.store.get(), hash).await {
            // Complete already (a release not swept yet, or a crash before tagging): kept again.
            self.keep_blob(hash).await?;
            return Ok(FetchStats::default());
        }
        let conn = match self.connect(from, Vec::new(), iroh_blobs::ALPN).await {
            Ok(conn) => conn,
            Err(e) => {
                // Soak finding 4: say which paths iroh knew when a blob connect fails.
                let known = self.known_paths(from).await;
                let sessions = self.shared.table.last_seen_addrs().remove(&from);
                tracing::warn!(
                    peer = %from,
                    known = %known,
                    sessions = ?sessions,
                    "blob fetch could not connect: {e}"
                );
                return Err(e);
            }
        };
        let store = self.store.get();
        let result = blobs::fetch(&store, conn.clone(), hash, on_progress).await;
        if result.is_err() {
            // A stopped store is opened again for the retry the core makes (HS-BLOB-2).
            self.store.revive_if_stopped().await;
        }
        // Read the peer's close code before closing: a local close would replace it.
        let peer_code = match conn.close_reason() {
            Some(ConnectionError::ApplicationClosed(close)) => Some(close_code(close.error_code)),
            _ => None,
        };
        conn.close(convert::var_int(CloseCode::NORMAL), b"done");
        match (result, peer_code) {
            (Ok(stats), _) => Ok(stats),
            (Err(_), Some(code)) => Err(TransportError::ClosedByPeer(code)),
            (Err(source), None) => Err(TransportError::Fetch { hash, source }),
        }
    }

    /// Keeps a complete blob (tags it, HS-BLOB-4) and makes that durable; idempotent.
    pub async fn keep_blob(&self, hash: BlobHash) -> Result<(), TransportError> {
        self.store
            .call(0, |store| async move { blobs::keep(&store, hash).await })
            .await
    }

    /// Stops keeping a blob (removes its tag, HS-BLOB-4): the next sweep of the store's
    /// garbage collection deletes its bytes unless it is pinned or in the keep set. Returns its
    /// size if it was complete.
    pub async fn release_blob(&self, hash: BlobHash) -> Result<Option<u64>, TransportError> {
        self.store
            .call(0, |store| async move { blobs::release(&store, hash).await })
            .await
    }

    /// Pins (`true`) or unpins a blob with its own tag, durably (HS-BLOB-4).
    pub async fn pin_blob(&self, hash: BlobHash, pin: bool) -> Result<(), TransportError> {
        self.store
            .call(0, |store| async move { blobs::pin(&store, hash, pin).await })
            .await
    }

    /// The blobs kept (tagged as held) and the pinned ones, as stored.
    pub async fn kept_blobs(&self) -> Result<(Vec<BlobHash>, Vec<BlobHash>), TransportError> {
        self.store
            .call(0, |store| async move { blobs::kept(&store).await })
            .await
    }

    /// The size of a complete blob, `None` if it is not complete here.
    pub async fn blob_size(&self, hash: BlobHash) -> Option<u64> {
        blobs::size(&self.store.get(), hash).await
    }

    /// Every blob in the store, complete or partial (tests and diagnostics).
    pub async fn stored_blobs(&self) -> Result<Vec<BlobHash>, TransportError> {
        self.store
            .call(0, |store| async move { blobs::list(&store).await })
            .await
    }

    /// How much of `hash` the blob store holds now (bytes of a transfer under way included).
    pub async fn blob_progress(&self, hash: BlobHash) -> Result<crate::BlobProgress, TransportError> {
        self.store
            .call(0, |store| async move { blobs::progress(&store, hash).await })
            .await
    }

    /// Copies a complete blob to `to` (overwriting it).
    pub async fn export_blob(&self, hash: BlobHash, to: &Path) -> Result<(), TransportError> {
        self.store
            .call(0, |store| async move { blobs::export(&store, hash, to).await })
            .await
    }

    /// What the blob provider admitted and refused so far (HS-BLOB-3).
    pub fn blob_provider_stats(&self) -> BlobProviderStats {
        self.provider.snapshot()
    }

    /// Closes every connection with CLOSE_SHUTDOWN, lets sessions report Closed (bounded),
    /// stops the router, the endpoint and the blob store (releasing its lock, so the same
    /// storage can be opened again at once). Tasks still holding the transport (a dial, a
    /// blob fetch) fail fast afterwards.
    pub async fn shutdown(&self) {
        self.shared.table.close_all(CloseCode::SHUTDOWN);
        self.shared.drain(SHUTDOWN_GRACE).await;
        // Closing the endpoint waits for peers to acknowledge; a peer that vanished must not
        // hold the app's exit (everything acknowledged is already durable).
        match tokio::time::timeout(ROUTER_CLOSE_LIMIT, self.router.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("router shutdown: {e}"),
            Err(_) => {
                tracing::warn!("closing the network took over {ROUTER_CLOSE_LIMIT:?}; not waiting for it")
            }
        }
        match tokio::time::timeout(BLOB_STORE_CLOSE_LIMIT, self.store.get().shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("blob store shutdown: {e}"),
            Err(_) => tracing::warn!(
                "closing the blob store took over {BLOB_STORE_CLOSE_LIMIT:?}; not waiting for it"
            ),
        }
        self.provider_task.abort();
    }
}
