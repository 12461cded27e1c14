//! Peers found on the local network by mDNS: iroh's mDNS lookup already resolves a dial by id
//! alone; this keeps what it announced so the node can say who it sees on the LAN (status,
//! logs) and redial a peer the moment it appears instead of waiting for its backoff.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use humansync_protocol::DeviceId;
use iroh::address_lookup::{AddressLookup, EndpointData, EndpointInfo, Error as AddressLookupError, Item};
use iroh_mdns_address_lookup::{DiscoveryEvent, MdnsAddressLookup};
use n0_future::StreamExt;
use n0_future::boxed::BoxStream;
use n0_future::task::AbortOnDropHandle;

use super::convert::device_id;

/// The LAN neighbourhood as mDNS last reported it.
#[derive(Debug, Default)]
pub(crate) struct LanPeers {
    peers: Mutex<BTreeMap<DeviceId, Vec<SocketAddr>>>,
    /// Bumped on every change; the driver waits on it ([`LanPeers::changes`]) instead of polling.
    generation: tokio::sync::watch::Sender<u64>,
}

impl LanPeers {
    /// Peers currently announced on the LAN, with the addresses they announced.
    pub(crate) fn snapshot(&self) -> BTreeMap<DeviceId, Vec<SocketAddr>> {
        self.peers.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Wakes whenever the neighbourhood changes.
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn bump(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Records what mDNS announced for one endpoint.
    fn seen(&self, info: &EndpointInfo) {
        let Some(peer) = device_id(&info.endpoint_id) else {
            return;
        };
        let addrs: Vec<SocketAddr> = info.data.ip_addrs().copied().collect();
        let Ok(mut peers) = self.peers.lock() else {
            return;
        };
        if peers.get(&peer) != Some(&addrs) {
            tracing::info!(%peer, ?addrs, "mDNS: peer seen on the local network");
            peers.insert(peer, addrs);
            drop(peers);
            self.bump();
        }
    }

    fn gone(&self, endpoint_id: &iroh::EndpointId) {
        let Ok(mut peers) = self.peers.lock() else {
            return;
        };
        if let Some(peer) = device_id(endpoint_id)
            && peers.remove(&peer).is_some()
        {
            tracing::info!(%peer, "mDNS: peer left the local network");
            drop(peers);
            self.bump();
        }
    }
}

/// iroh's mDNS lookup, reporting every answer it gives a dial into [`LanPeers`] as well (its
/// subscription only reports peers nobody asked for).
#[derive(Debug, Clone)]
pub(crate) struct LanLookup {
    mdns: MdnsAddressLookup,
    lan: Arc<LanPeers>,
}

impl LanLookup {
    /// Wraps `mdns`, recording into `lan`.
    pub(crate) fn new(mdns: MdnsAddressLookup, lan: Arc<LanPeers>) -> Self {
        LanLookup { mdns, lan }
    }
}

impl AddressLookup for LanLookup {
    fn publish(&self, data: &EndpointData) {
        self.mdns.publish(data);
    }

    fn resolve(&self, endpoint_id: iroh::EndpointId) -> Option<BoxStream<Result<Item, AddressLookupError>>> {
        let lan = self.lan.clone();
        let stream = self.mdns.resolve(endpoint_id)?;
        Some(Box::pin(stream.inspect(move |answer| {
            if let Ok(item) = answer {
                lan.seen(item.endpoint_info());
            }
        })))
    }
}

/// Follows `mdns`'s announcements into `lan` until the returned handle is dropped.
pub(crate) fn watch(mdns: &MdnsAddressLookup, lan: Arc<LanPeers>) -> AbortOnDropHandle<()> {
    let mdns = mdns.clone();
    AbortOnDropHandle::new(tokio::spawn(async move {
        let mut events = mdns.subscribe().await;
        while let Some(event) = events.next().await {
            match event {
                DiscoveryEvent::Discovered { endpoint_info, .. } => lan.seen(&endpoint_info),
                DiscoveryEvent::Expired { endpoint_id } => lan.gone(&endpoint_id),
                _ => {}
            }
        }
    }))
}
