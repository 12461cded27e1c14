//! The driver: one tokio task that owns the pure [`Core`] and performs what it asks — bytes to
//! iroh, I/O to the disk worker, events to the app — under the core's single-mutation contract.

mod anchor;
mod blob_keeper;
mod command;
mod devices;
mod dial;
mod last_seen;
mod shutdown;
mod store_worker;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use humansync_protocol::{CloseCode, DeviceId};
use humansync_sansio::{AppRequestId, Core, Event, Instant, IoAction, IoResult, IoTaskId, Output};
use tokio::sync::{broadcast, mpsc};

pub(crate) use anchor::AnchorCommand;
use blob_keeper::{BlobKeeper, KeeperOp};
pub(crate) use command::{Command, Reply};
use dial::Dialer;
use last_seen::LastSeen;
use store_worker::StoreWorker;

use crate::pairing::PairingState;
use crate::transport::{Gate, NetEvent, Transport};
use crate::{Error, NodeStats, PeerStatus, SessionCounters, SyncStatus};

/// What the driver needs to run.
pub(crate) struct DriverParts {
    pub(crate) core: Core,
    pub(crate) transport: Transport,
    pub(crate) gate: Gate,
    pub(crate) store: crate::store::DocStore,
    pub(crate) net_events: mpsc::Receiver<NetEvent>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) pairing: PairingState,
    /// The blob store's sweeps ask here which blobs to keep (HS-BLOB-4).
    pub(crate) keep_requests: mpsc::UnboundedReceiver<KeepRequest>,
}

/// A sweep of the blob store asking which blobs to keep.
pub(crate) type KeepRequest = tokio::sync::oneshot::Sender<Vec<humansync_protocol::BlobHash>>;

/// A blob now held: from the app (with the import's temp tag) or fetched by `get_blob`.
type BlobAdded = (humansync_protocol::BlobHash, Option<iroh_blobs::api::TempTag>);

/// The driver's state; see the module docs.
struct Driver {
    core: Core,
    transport: std::sync::Arc<Transport>,
    gate: Gate,
    store: StoreWorker,
    io_tx: mpsc::UnboundedSender<(IoTaskId, IoResult)>,
    events: broadcast::Sender<Event>,
    pairing: PairingState,
    base: tokio::time::Instant,
    base_wall: SystemTime,
    /// The reply owed for each app request the core has not completed yet.
    replies: BTreeMap<AppRequestId, Reply<()>>,
    /// The last app request id used.
    last_request: u64,
    dialer: Dialer,
    shutting_down: Option<Reply<()>>,
    /// The mDNS neighbourhood generation last acted on.
    lan_generation: u64,
    /// The LAN peers and addresses as of that generation.
    lan_seen: BTreeMap<DeviceId, Vec<std::net::SocketAddr>>,
    blob_added_tx: mpsc::UnboundedSender<BlobAdded>,
    /// Applies keeps, releases and pins to the blob store in order (HS-BLOB-4).
    keeper: BlobKeeper,
    /// Counters since start ([`NodeStats::totals`]).
    totals: crate::NodeTotals,
    /// When a session with each peer was last open ([`crate::Node::devices`]).
    last_seen: LastSeen,
}

/// Runs the driver until shutdown.
pub(crate) async fn run(parts: DriverParts) {
    let DriverParts {
        core,
        transport,
        gate,
        store,
        mut net_events,
        mut commands,
        events,
        pairing,
        mut keep_requests,
    } = parts;
    let (io_tx, mut io_rx) = mpsc::unbounded_channel();
    let (dial_tx, mut dial_rx) = mpsc::unbounded_channel();
    let (blob_added_tx, mut blob_added_rx) = mpsc::unbounded_channel();
    let last_seen = LastSeen::new(store.last_seen());
    let store = StoreWorker::start(store, io_tx.clone());
    let transport = std::sync::Arc::new(transport);
    let keeper = BlobKeeper::start(transport.clone(), io_tx.clone());
    let mut driver = Driver {
        core,
        transport,
        keeper,
        gate,
        store,
        io_tx,
        events,
        pairing,
        base: tokio::time::Instant::now(),
        base_wall: SystemTime::now(),
        replies: BTreeMap::new(),
        last_request: 0,
        dialer: Dialer::new(dial_tx),
        shutting_down: None,
        lan_generation: 0,
        lan_seen: BTreeMap::new(),
        blob_added_tx,
        totals: crate::NodeTotals::default(),
        last_seen,
    };
    driver.adopt_server_relay().await;
    driver.know_server_addrs();
    driver.pump();
    // Only looks for news from mDNS; dial timing is the core's (poll_timeout).
    let mut lan_tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let timeout = driver.core.poll_timeout_reason().map(|(t, reason)| {
            tracing::trace!(?reason, at_ms = t.0, "core timer");
            driver.base + Duration::from_millis(t.0)
        });
        let sleep = async {
            match timeout {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(cmd) => driver.command(cmd).await,
                None => break,
            },
            Some(ev) = net_events.recv() => driver.net(ev),
            Some((id, result)) = io_rx.recv() => driver.io_result(id, result),
            Some(peer) = dial_rx.recv() => {
                let now = driver.now();
                driver.core.handle_dial_failed(now, peer);
            }
            Some((hash, hold)) = blob_added_rx.recv() => {
                let now = driver.now();
                let was_held = driver.core.holds_blob(&hash);
                driver.core.handle_blob_added(now, hash);
                if !was_held {
                    // Tagged after any release of it already queued (HS-BLOB-4).
                    driver.keeper.submit(KeeperOp::Keep { hash, hold });
                }
            }
            Some(reply) = keep_requests.recv() => {
                let _ = reply.send(driver.core.blobs_to_keep().into_iter().collect());
            }
            _ = lan_tick.tick() => driver.lan_news(),
            _ = sleep => {
                let now = driver.now();
                driver.core.handle_timeout(now);
            }
        }
        driver.pump();
        if driver.shutting_down.is_some() {
            break;
        }
    }
    driver.shutdown().await;
}

impl Driver {
    fn now(&self) -> Instant {
        Instant(self.base.elapsed().as_millis() as u64)
    }

    /// Drains the core's outputs (the single-mutation contract), then refreshes the gate.
    fn pump(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Transmit { conn, bytes } => {
                    self.totals.bytes_out += bytes.len() as u64;
                    if self.transport.send(conn, bytes).is_err() {
                        // The peer is not draining (queue full) or the connection is gone: close it
                        // for good so the transport reports no second Closed later.
                        let now = self.now();
                        self.transport.close(conn, CloseCode::LIMIT);
                        self.core.handle_connection_closed(now, conn, CloseCode::LIMIT);
                    }
                }
                Output::Close { conn, code } => self.transport.close(conn, code),
                Output::Gate(view) => {
                    let self_revoked = view.self_revoked();
                    self.gate.set(view);
                    if self_revoked {
                        // HS-GATE-5: every connection on every ALPN, blob transfers included.
                        self.transport.disconnect_all(CloseCode::REVOKED);
                    }
                }
                Output::Dial { peer } => {
                    self.totals.dials_started += 1;
                    self.dialer.dial(peer, &self.transport);
                }
                Output::DisconnectPeer { peer, code } => {
                    self.transport.disconnect_peer(peer, code);
                }
                Output::Io(task) => match task.action {
                    IoAction::ReleaseBlob { hash } => {
                        self.keeper.submit(KeeperOp::Release { id: task.id, hash });
                    }
                    IoAction::FetchBlob { hash, from } => {
                        let transport = self.transport.clone();
                        let tx = self.io_tx.clone();
                        let id = task.id;
                        tokio::spawn(async move {
                            // Operators read what a node holds from these lines (the Docker test too).
                            let result = match transport.fetch_blob(hash, from).await {
                                Ok(stats) => {
                                    tracing::info!(%hash, peer = %from, bytes = stats.payload_bytes, "blob fetched");
                                    IoResult::Done
                                }
                                Err(e) => {
                                    tracing::info!(%hash, peer = %from, error = %e, "blob fetch failed; will retry");
                                    IoResult::Failed {
                                        reason: e.to_string(),
                                    }
                                }
                            };
                            let _ = tx.send((id, result));
                        });
                    }
                    _ => {
                        if !self.store.submit(task.clone()) {
                            let _ = self.io_tx.send((
                                task.id,
                                IoResult::Failed {
                                    reason: "store stopped".into(),
                                },
                            ));
                        }
                    }
                },
                Output::Event(event) => self.event(event),
                Output::AppDone { id, result } => {
                    if let Some(reply) = self.replies.remove(&id) {
                        let _ = reply.send(result.map_err(core_error));
                    }
                }
            }
        }
    }

    fn event(&mut self, event: Event) {
        self.note_seen(&event);
        self.count(&event);
        if let Event::DocCorrupt { doc, reason } = &event {
            tracing::warn!(%doc, %reason, "stored document is corrupt: quarantined, recovering from peers");
        }
        let _ = self.events.send(event);
    }

    /// Counts what [`NodeStats::totals`] reports.
    fn count(&mut self, event: &Event) {
        let t = &mut self.totals;
        match event {
            Event::PeerConnected(_) => t.sessions_opened += 1,
            Event::Reconciled(_) => t.sync_exchanges += 1,
            Event::DocChanged {
                origin: humansync_sansio::Origin::Remote(_),
                ..
            }
            | Event::DocDeleted {
                origin: humansync_sansio::Origin::Remote(_),
                ..
            } => t.remote_changes += 1,
            Event::DocCorrupt { .. } => t.quarantines += 1,
            Event::BlobArrived(_) => t.blobs_arrived += 1,
            Event::DeviceRevoked(_) => t.devices_revoked += 1,
            _ => {}
        }
    }

    fn net(&mut self, event: NetEvent) {
        let now = self.now();
        match event {
            NetEvent::Connected { conn, peer, role } => {
                if let humansync_sansio::gate::Admission::Reject(code) =
                    self.core.handle_connection(now, conn, peer, role)
                {
                    self.transport.close(conn, code);
                }
            }
            NetEvent::Bytes { conn, bytes } => {
                self.totals.bytes_in += bytes.len() as u64;
                self.core.handle_bytes(now, conn, &bytes)
            }
            NetEvent::Closed { conn, code } => self.core.handle_connection_closed(now, conn, code),
        }
    }

    fn io_result(&mut self, id: IoTaskId, result: IoResult) {
        let now = self.now();
        self.core.handle_io_result(now, id, result);
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::App { request, reply } => {
                // Completed by the core's `AppDone` with this id; nothing else is kept.
                self.last_request += 1;
                let id = AppRequestId(self.last_request);
                self.replies.insert(id, reply);
                let now = self.now();
                self.core.handle_app_request(now, id, request);
            }
            Command::List { prefix, reply } => {
                let _ = reply.send(Ok(self.core.list(&prefix)));
            }
            Command::Status { reply } => {
                let _ = reply.send(Ok(self.status()));
            }
            Command::Devices { reply } => {
                let _ = reply.send(Ok(self.devices()));
            }
            Command::Stats { reply } => {
                let stats = self.stats();
                let retention = self.core.blob_retention();
                let transport = self.transport.clone();
                let released = self.keeper.released.clone();
                // Sizes come from the blob store: asked off the driver.
                tokio::spawn(async move {
                    let stats = blob_stats(stats, retention, &transport, &released).await;
                    let _ = reply.send(Ok(stats));
                });
            }
            Command::StoreBlob { path, reply } => {
                // Adding hashes the file; done off the driver, then reported back as BlobAdded.
                let transport = self.transport.clone();
                let added = self.blob_added_tx.clone();
                tokio::spawn(async move {
                    let result = transport
                        .add_blob_held(&path)
                        .await
                        .map_err(|e| Error::Storage(e.to_string()));
                    let result = result.map(|(hash, hold)| {
                        // The temp tag protects the blob until the keeper has tagged it.
                        let _ = added.send((hash, Some(hold)));
                        hash
                    });
                    let _ = reply.send(result);
                });
            }
            Command::PinBlob { hash, pin, reply } => {
                let now = self.now();
                if pin {
                    self.core.pin_blob(now, hash);
                } else {
                    self.core.unpin_blob(now, hash);
                }
                self.keeper.submit(KeeperOp::Pin { hash, pin, reply });
            }
            Command::ExportBlob { hash, to, reply } => {
                let transport = self.transport.clone();
                tokio::spawn(async move {
                    let result = transport
                        .export_blob(hash, &to)
                        .await
                        .map_err(|e| Error::Storage(e.to_string()));
                    let _ = reply.send(result);
                });
            }
            Command::FetchBlob { hash, reply } => self.fetch_any(hash, reply),
            Command::BlobProgress { hash, reply } => {
                let transport = self.transport.clone();
                tokio::spawn(async move {
                    let result = transport
                        .blob_progress(hash)
                        .await
                        .map_err(|e| Error::Storage(e.to_string()));
                    let _ = reply.send(result);
                });
            }
            Command::ApplyPairing { response, reply } => {
                let result = self.apply_pairing(&response);
                if result.is_ok() {
                    self.adopt_server_relay().await;
                }
                let _ = reply.send(result);
            }
            Command::AddPeerAddrs { peer, addrs } => self.peer_addrs(peer, addrs),
            Command::ServerAnswered => {
                if let Some(anchor) = self.core.gate().anchor() {
                    let now = self.now();
                    self.core.handle_peer_seen(now, anchor);
                }
            }
            Command::Shutdown { reply } => self.shutting_down = Some(reply),
            Command::Anchor(cmd) => self.anchor_command(cmd),
        }
    }

    /// Peers with an open session.
    fn open_peers(&self) -> BTreeSet<DeviceId> {
        self.core
            .status()
            .peers
            .iter()
            .filter(|p| p.open)
            .map(|p| p.peer)
            .collect()
    }

    fn fetch_any(&mut self, hash: humansync_protocol::BlobHash, reply: Reply<()>) {
        let peers: Vec<DeviceId> = self.open_peers().into_iter().collect();
        let transport = self.transport.clone();
        let added = self.blob_added_tx.clone();
        tokio::spawn(async move {
            // What the app reads is held (and, if unreferenced, has a new grace period).
            if transport.has_blob(hash).await {
                let _ = added.send((hash, None));
                let _ = reply.send(Ok(()));
                return;
            }
            for peer in peers {
                if transport.fetch_blob(hash, peer).await.is_ok() {
                    let _ = added.send((hash, None));
                    let _ = reply.send(Ok(()));
                    return;
                }
            }
            let _ = reply.send(Err(Error::BlobUnavailable(hash)));
        });
    }

    fn apply_pairing(&mut self, response: &humansync_protocol::http::PairResponse) -> Result<(), Error> {
        let now = self.now();
        // Records are verified before the anchor is changed; invalid ones are skipped (HS-PAIR-9).
        let records = crate::pairing::valid_records(response);
        self.core
            .set_anchor(now, response.server_node_id)
            .map_err(|e| Error::Pairing(e.to_string()))?;
        for (record, _) in &records {
            self.core
                .add_registry_record(now, record)
                .map_err(|e| Error::Pairing(e.to_string()))?;
        }
        let addrs = response
            .server_addrs
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        self.peer_addrs(response.server_node_id, addrs);
        self.pairing
            .save(response)
            .map_err(|e| Error::Storage(e.to_string()))?;
        Ok(())
    }

    /// Uses the relay the pairing server announced, if any (HS-RELAY-3). A URL that does not
    /// parse is ignored with a warning: direct paths still work.
    async fn adopt_server_relay(&mut self) {
        let Some(url) = self
            .pairing
            .response
            .as_ref()
            .and_then(|r| r.relay_url.as_deref())
        else {
            return;
        };
        match url.parse::<iroh::RelayUrl>() {
            Ok(relay) => {
                if self.transport.adopt_relay(relay).await {
                    tracing::info!(relay = url, "using the server's relay");
                }
            }
            Err(e) => tracing::warn!(relay = url, "ignoring the server's relay URL: {e}"),
        }
    }

    /// The server's addresses from pairing, known before the first pump performs the dials the
    /// core asked for at start (else the first dial to the server has no address and fails).
    fn know_server_addrs(&mut self) {
        let Some(response) = self.pairing.response.as_ref() else {
            return;
        };
        let addrs: Vec<std::net::SocketAddr> = response
            .server_addrs
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        let server = response.server_node_id;
        self.transport.add_peer_addrs(server, addrs.clone());
        self.dialer.set_addrs(server, addrs);
    }

    /// New addresses for `peer`: the core dials it at once instead of after its backoff.
    fn peer_addrs(&mut self, peer: DeviceId, addrs: Vec<std::net::SocketAddr>) {
        // The address book at once: a dial already in flight may use them too.
        self.transport.add_peer_addrs(peer, addrs.clone());
        if self.dialer.set_addrs(peer, addrs) {
            let now = self.now();
            self.core.handle_peer_seen(now, peer);
        }
    }

    /// A peer just appeared on the LAN (mDNS), or at new addresses (it restarted): the core dials
    /// it now rather than after its backoff.
    fn lan_news(&mut self) {
        let generation = self.transport.lan_generation();
        if generation != self.lan_generation {
            self.lan_generation = generation;
            let now = self.now();
            let peers = self.transport.lan_peers();
            for (peer, addrs) in &peers {
                if self.lan_seen.get(peer) != Some(addrs) {
                    self.core.handle_peer_seen(now, *peer);
                }
            }
            self.lan_seen = peers;
        }
    }

    fn status(&self) -> SyncStatus {
        let st = self.core.status();
        SyncStatus {
            peers: st
                .peers
                .iter()
                .filter(|p| p.open)
                .map(|p| PeerStatus {
                    peer: p.peer,
                    up_to_date: p.up_to_date,
                    outstanding: p.outstanding,
                })
                .collect(),
            lan_peers: self
                .transport
                .lan_peers()
                .into_keys()
                .filter(|p| self.core.gate().admit(p).is_admit())
                .collect(),
            docs: st.docs,
            docs_pending: st.docs_pending,
            blobs_missing: st.blobs_missing,
            last_sync: st.last_sync.map(|t| self.base_wall + Duration::from_millis(t.0)),
        }
    }

    fn stats(&self) -> NodeStats {
        let sessions = self
            .core
            .status()
            .peers
            .iter()
            .map(|p| {
                let (udp_tx_bytes, udp_rx_bytes) =
                    self.transport.session_udp_bytes(p.conn).unwrap_or_default();
                SessionCounters {
                    peer: p.peer,
                    open: p.open,
                    stats: p.stats,
                    udp_tx_bytes,
                    udp_rx_bytes,
                    relayed: self.transport.session_relayed(p.conn).unwrap_or(false),
                }
            })
            .collect();
        let status = self.core.status();
        let io = self.core.io_counts();
        NodeStats {
            docs_loaded: io.loads,
            saves_done: io.saves_done,
            io_pending: io.disk_pending,
            sessions_open: status.peers.iter().filter(|p| p.open).count() as u64,
            documents: status.docs as u64,
            blobs_missing: status.blobs_missing as u64,
            sessions,
            home_relay: self.transport.home_relay().map(|url| url.to_string()),
            totals: self.totals,
            // Disk figures are filled in by `Node::stats`, off the driver.
            store_bytes: 0,
            blob_bytes: 0,
            blobs: crate::BlobStats::default(),
            quarantined_files: 0,
        }
    }
}

/// Fills [`NodeStats::blobs`]: counts from the core, sizes from the blob store (HS-BLOB-4).
async fn blob_stats(
    mut stats: NodeStats,
    retention: humansync_sansio::BlobRetention,
    transport: &Transport,
    released: &blob_keeper::Released,
) -> NodeStats {
    let mut held_bytes = 0u64;
    let mut pending_bytes = 0u64;
    let pending: BTreeSet<_> = retention.pending.iter().copied().collect();
    for hash in &retention.held {
        let size = transport.blob_size(*hash).await.unwrap_or(0);
        held_bytes = held_bytes.saturating_add(size);
        if pending.contains(hash) {
            pending_bytes = pending_bytes.saturating_add(size);
        }
    }
    let order = std::sync::atomic::Ordering::Relaxed;
    stats.blobs = crate::BlobStats {
        held: retention.held.len() as u64,
        held_bytes,
        pending_deletion: retention.pending.len() as u64,
        pending_deletion_bytes: pending_bytes,
        pinned: retention.pinned.len() as u64,
        deleted: released.blobs.load(order),
        deleted_bytes: released.bytes.load(order),
        grace: Duration::from_millis(retention.grace_ms),
    };
    stats
}

fn core_error(e: humansync_sansio::CoreError) -> Error {
    use humansync_sansio::CoreError as C;
    match e {
        C::Deleted(doc) => Error::Deleted(doc),
        C::RegistryDoc => Error::RegistryDoc,
        // Local faults, kept apart: not loaded is the driver's, a refused record the registry's.
        C::NotLoaded(doc) => Error::NotLoaded(doc),
        C::Record(reason) => Error::Registry(reason),
        C::Storage(reason) => Error::Storage(reason),
        other => Error::Storage(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync_protocol::DocId;

    /// Local faults of the core stay distinct in the runtime's error: a document not loaded is
    /// the node's own fault, a refused registry record the registry's — neither a storage error.
    #[test]
    fn core_errors_keep_their_kind() {
        let doc = DocId::new("notes/a").expect("a valid id");
        let not_loaded = core_error(humansync_sansio::CoreError::NotLoaded(doc.clone()));
        assert!(
            matches!(&not_loaded, Error::NotLoaded(d) if *d == doc),
            "{not_loaded:?}"
        );
        let record = core_error(humansync_sansio::CoreError::Record("bad signature".into()));
        assert!(matches!(record, Error::Registry(_)), "{record:?}");
        let corrupt = core_error(humansync_sansio::CoreError::CorruptRegistry("truncated".into()));
        assert!(matches!(corrupt, Error::Storage(_)), "{corrupt:?}");
    }
}
