//! Step 2 of the run loop for app requests ([`Command`]): each becomes one mutation of the core,
//! or a task started off the driver whose answer comes back as an [`Input`].

use std::collections::BTreeSet;

use humansync_protocol::DeviceId;

use super::blob_keeper::KeeperOp;
use super::{Command, Driver, Input, Reply};
use crate::Error;

impl Driver {
    pub(super) async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::App { request, reply } => {
                // Completed by the core's `AppDone` with this id; nothing else is kept.
                self.last_request += 1;
                let id = humansync_sansio::AppRequestId(self.last_request);
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
                    let stats = super::report::blob_stats(stats, retention, &transport, &released).await;
                    let _ = reply.send(Ok(stats));
                });
            }
            Command::StoreBlob { path, reply } => {
                // Adding hashes the file; done off the driver, then reported back as BlobAdded.
                let transport = self.transport.clone();
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    let result = transport
                        .add_blob_held(&path)
                        .await
                        .map_err(|e| Error::blob_store(&e));
                    let result = result.map(|(hash, hold)| {
                        // The temp tag protects the blob until the keeper has tagged it.
                        let hold = Some(hold);
                        let _ = inputs.send(Input::BlobAdded { hash, hold });
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
                        .map_err(|e| Error::blob_store(&e));
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
            Command::RegistryRecord(record) => {
                let now = self.now();
                // The core verifies the server's signature; a record that fails changes nothing.
                if let Err(e) = self.core.add_registry_record(now, &record) {
                    tracing::warn!(error = %e, "registry record from the server refused");
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
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let added = || inputs.send(Input::BlobAdded { hash, hold: None });
            // What the app reads is held (and, if unreferenced, has a new grace period).
            if transport.has_blob(hash).await {
                let _ = added();
                let _ = reply.send(Ok(()));
                return;
            }
            for peer in peers {
                if transport.fetch_blob(hash, peer).await.is_ok() {
                    let _ = added();
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
    pub(super) async fn adopt_server_relay(&mut self) {
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
    pub(super) fn know_server_addrs(&mut self) {
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
    pub(super) fn lan_news(&mut self) {
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
