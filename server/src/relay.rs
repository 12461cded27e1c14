//! The embedded iroh relay (`--serve-relay`, HS-RELAY-1, HS-RELAY-2): forwards end-to-end
//! encrypted QUIC packets between devices that cannot reach each other directly, for users who
//! do not want a third party's relays. Only the server's own node and registered, unrevoked
//! devices may connect; a revoked device's relay connections are closed at once.
//!
//! It serves plain HTTP (the relayed traffic is already encrypted and authenticated end to end;
//! the relay handshake proves the client's key). Put a TLS proxy in front for `https://`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use humansync::{Event, Node};
use humansync_protocol::DeviceId;
use iroh_relay::server::{
    Access, AccessControl, ClientRequest, RelayConfig, RelayService, Server, ServerConfig,
};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Default TCP port of the embedded relay.
pub const DEFAULT_RELAY_PORT: u16 = 3340;

/// How long a revoked device keeps its open relay connections: the server closes the device's
/// sessions at the same moment, and a session that still runs over the relay needs the relay to
/// carry that close to the device. New relay connections are refused at once.
pub const REVOKED_RELAY_GRACE: Duration = Duration::from_secs(1);

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the relay on {addr}: {source}")]
pub struct RelayError {
    addr: SocketAddr,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

/// Admits the server's node and the devices its registry admits (HS-RELAY-2).
#[derive(Clone)]
struct RegistryAccess {
    /// The cloud peer, once started: the relay starts first, because the node uses it.
    node: watch::Receiver<Option<Node>>,
    /// Connections refused so far.
    refused: Arc<AtomicU64>,
}

impl std::fmt::Debug for RegistryAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAccess")
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

impl AccessControl for RegistryAccess {
    async fn on_connect(&self, request: &ClientRequest) -> Access {
        let deny = |reason: &str| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Access::Deny {
                reason: Some(reason.to_owned()),
            }
        };
        let Ok(device) = DeviceId::from_bytes(*request.endpoint_id().as_bytes()) else {
            return deny("not a device id");
        };
        let mut node = self.node.clone();
        // Only the server's own node can connect this early; it waits for its start to finish.
        let Ok(node) = node.wait_for(Option::is_some).await.map(|n| n.clone()) else {
            return deny("the server is stopping");
        };
        let Some(node) = node else {
            return deny("the server is stopping");
        };
        if device == node.id() {
            return Access::Allow;
        }
        match node.registry().await {
            Ok(view) if view.is_admitted(&device) => Access::Allow,
            Ok(_) => {
                tracing::info!(target: "humansync::audit", action = "relay", node_id = %device, outcome = "refused");
                deny("not a registered device")
            }
            Err(e) => {
                tracing::warn!("relay access check failed: {e}");
                deny("the server is stopping")
            }
        }
    }
}

/// A running embedded relay.
pub struct EmbeddedRelay {
    server: Server,
    node: watch::Sender<Option<Node>>,
    revoker: Option<JoinHandle<()>>,
    refused: Arc<AtomicU64>,
}

impl std::fmt::Debug for EmbeddedRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedRelay")
            .field("http_addr", &self.server.http_addr())
            .finish_non_exhaustive()
    }
}

impl EmbeddedRelay {
    /// Binds the relay on `addr` (plain HTTP). Connections wait for [`EmbeddedRelay::attach`].
    pub async fn start(addr: SocketAddr) -> Result<EmbeddedRelay, RelayError> {
        let (node, node_rx) = watch::channel(None);
        let refused = Arc::new(AtomicU64::new(0));
        let mut relay = RelayConfig::new(addr);
        relay.access = Arc::new(RegistryAccess {
            node: node_rx,
            refused: refused.clone(),
        });
        let mut config = ServerConfig::default();
        config.relay = Some(relay);
        config.metrics_addr = None;
        let server = Server::spawn(config).await.map_err(|e| RelayError {
            addr,
            source: Box::new(e),
        })?;
        Ok(EmbeddedRelay {
            server,
            node,
            revoker: None,
            refused,
        })
    }

    /// Where the relay listens.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.server.http_addr()
    }

    /// The live counter behind [`EmbeddedRelay::refused`] (for `/metrics`).
    pub fn refused_counter(&self) -> Arc<AtomicU64> {
        self.refused.clone()
    }

    /// Connections refused since start (unregistered, revoked or malformed ids).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The URL the server's own node uses: the bound address (a loopback one when bound to all
    /// interfaces).
    pub fn local_url(&self) -> Option<String> {
        let mut addr = self.http_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Some(format!("http://{addr}"))
    }

    /// Starts admitting connections checked against `node`'s registry, and closes the relay
    /// connections of every device the registry revokes from now on (HS-RELAY-2).
    pub fn attach(&mut self, node: Node) {
        if let Some(service) = self.server.relay_service().cloned() {
            self.revoker = Some(tokio::spawn(close_revoked(node.clone(), node.events(), service)));
        }
        self.node.send_replace(Some(node));
    }

    /// Stops the relay.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.revoker.take() {
            task.abort();
        }
        self.node.send_replace(None);
        if let Err(e) = self.server.shutdown().await {
            tracing::warn!("relay shutdown: {e}");
        }
    }
}

/// Closes a revoked device's relay connections [`REVOKED_RELAY_GRACE`] after its revocation.
/// After missed events, sweeps every revoked device.
async fn close_revoked(node: Node, mut events: broadcast::Receiver<Event>, service: RelayService) {
    loop {
        match events.recv().await {
            Ok(Event::DeviceRevoked(device)) => {
                let service = service.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(REVOKED_RELAY_GRACE).await;
                    disconnect(&service, device);
                });
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {
                if let Ok(view) = node.registry().await {
                    for (device, _) in view.devices() {
                        if !view.is_admitted(device) {
                            disconnect(&service, *device);
                        }
                    }
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn disconnect(service: &RelayService, device: DeviceId) {
    let Ok(id) = iroh::EndpointId::from_bytes(device.as_bytes()) else {
        return;
    };
    if service.clients().disconnect(id, None) {
        tracing::info!(node_id = %device, "closed a revoked device's relay connections");
    }
}
