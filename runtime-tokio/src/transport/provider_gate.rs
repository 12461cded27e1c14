//! The blob provider's own gate: iroh-blobs asks before serving a connection or a request,
//! and we answer from the same [`Gate`] as the endpoint hook (HS-BLOB-3, HS-GATE-3, HS-GATE-4).
//!
//! The endpoint hook already refuses non-admitted peers before the blobs handler runs; this
//! second check covers a revocation that lands while a blobs connection is open: every new
//! request is re-checked.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use humansync_protocol::DeviceId;
use iroh_blobs::provider::events::{
    AbortReason, ConnectMode, EventMask, EventSender, ObserveMode, ProviderMessage, RequestMode, ThrottleMode,
};
use tokio::sync::mpsc;

use super::convert::device_id;
use super::gate::Gate;

/// What the blob provider admitted and refused since the transport was bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobProviderStats {
    /// Blob connections the provider accepted.
    pub connections_admitted: u64,
    /// Blob connections the provider refused (peer not admitted).
    pub connections_refused: u64,
    /// Requests (get, get-many, observe) the provider agreed to serve.
    pub requests_admitted: u64,
    /// Requests it refused (peer no longer admitted, or a push).
    pub requests_refused: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    connections_admitted: AtomicU64,
    connections_refused: AtomicU64,
    requests_admitted: AtomicU64,
    requests_refused: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> BlobProviderStats {
        BlobProviderStats {
            connections_admitted: self.connections_admitted.load(Ordering::Relaxed),
            connections_refused: self.connections_refused.load(Ordering::Relaxed),
            requests_admitted: self.requests_admitted.load(Ordering::Relaxed),
            requests_refused: self.requests_refused.load(Ordering::Relaxed),
        }
    }
}

/// Connections and data requests are intercepted; pushes (writes into our store) are disabled.
const MASK: EventMask = EventMask {
    connected: ConnectMode::Intercept,
    get: RequestMode::Intercept,
    get_many: RequestMode::Intercept,
    push: RequestMode::Disabled,
    observe: ObserveMode::Intercept,
    throttle: ThrottleMode::None,
};

/// The event sender for `BlobsProtocol::new` and the task that answers it. The task ends when
/// the provider drops the sender (router shutdown).
pub(crate) fn provider_gate(
    gate: Gate,
    counters: Arc<Counters>,
) -> (EventSender, impl Future<Output = ()> + Send) {
    let (tx, rx) = mpsc::channel(64);
    (EventSender::new(tx, MASK), run(rx, gate, counters))
}

async fn run(mut rx: mpsc::Receiver<ProviderMessage>, gate: Gate, counters: Arc<Counters>) {
    // connection id (QUIC stable id) → peer, for connections we admitted.
    let mut peers: HashMap<u64, DeviceId> = HashMap::new();
    let admitted = |peers: &HashMap<u64, DeviceId>, connection_id: u64| -> Result<(), AbortReason> {
        let ok = peers
            .get(&connection_id)
            .is_some_and(|peer| gate.admission(peer).is_admit());
        let counter = if ok {
            &counters.requests_admitted
        } else {
            &counters.requests_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if ok { Ok(()) } else { Err(AbortReason::Permission) }
    };
    while let Some(message) = rx.recv().await {
        match message {
            ProviderMessage::ClientConnected(msg) => {
                let peer = msg.inner.endpoint_id.as_ref().and_then(device_id);
                let verdict = match peer {
                    Some(peer) if gate.admission(&peer).is_admit() => {
                        peers.insert(msg.inner.connection_id, peer);
                        counters.connections_admitted.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    _ => {
                        counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                        Err(AbortReason::Permission)
                    }
                };
                let _ = msg.tx.send(verdict).await;
            }
            ProviderMessage::ConnectionClosed(msg) => {
                peers.remove(&msg.inner.connection_id);
            }
            ProviderMessage::GetRequestReceived(msg) => {
                let verdict = admitted(&peers, msg.inner.connection_id);
                let _ = msg.tx.send(verdict).await;
            }
            ProviderMessage::GetManyRequestReceived(msg) => {
                let verdict = admitted(&peers, msg.inner.connection_id);
                let _ = msg.tx.send(verdict).await;
            }
            ProviderMessage::ObserveRequestReceived(msg) => {
                let verdict = admitted(&peers, msg.inner.connection_id);
                let _ = msg.tx.send(verdict).await;
            }
            ProviderMessage::PushRequestReceived(msg) => {
                counters.requests_refused.fetch_add(1, Ordering::Relaxed);
                let _ = msg.tx.send(Err(AbortReason::Permission)).await;
            }
            ProviderMessage::Throttle(msg) => {
                let _ = msg.tx.send(Ok(())).await;
            }
            // Notifications need no answer.
            _ => {}
        }
    }
}
