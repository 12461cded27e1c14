//! How to bind the transport: key, sockets, relay, mDNS, blob store location.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use iroh::endpoint::{BindOpts, Builder, PortmapperConfig, presets};
use iroh::{RelayMap, RelayMode, RelayUrl};

use super::error::TransportError;

/// Which relay servers the endpoint uses to reach peers it cannot reach directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayChoice {
    /// No relay: direct addresses and mDNS only (tests, LAN-only deployments).
    Disabled,
    /// Our own relay (for example the server's iroh-relay).
    Custom(RelayUrl),
    /// No relay until one is added with [`super::Transport::adopt_relay`] (the one the pairing
    /// server announces); until then only direct paths are used.
    Adopted,
    /// number 0's public relays and DNS address lookup (iroh's `presets::N0`).
    Default,
}

/// Asked before every sweep of the blob store: the blobs to keep, or `None` to skip the sweep
/// (the node is going away). The future must be `Send + Sync` (iroh-blobs' protect callback).
pub type KeepSet = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Option<Vec<humansync_protocol::BlobHash>>> + Send + Sync>,
        > + Send
        + Sync,
>;

/// The blob store's own garbage collection (HS-BLOB-4): every `interval` it deletes every blob
/// that is neither tagged (held, pinned) nor in the set `keep` returns (referenced, possibly
/// partial). Without it the store never deletes anything.
#[derive(Clone)]
pub struct BlobGc {
    /// Time between two sweeps.
    pub interval: std::time::Duration,
    /// The blobs to keep besides the tagged ones.
    pub keep: KeepSet,
}

impl std::fmt::Debug for BlobGc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobGc")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Everything [`super::Transport::bind`] needs.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The device's Ed25519 secret key; its public key is the [`humansync_protocol::DeviceId`] (HS-ID-1).
    pub secret_key: [u8; 32],
    /// UDP port to bind; 0 picks any free port.
    pub bind_port: u16,
    /// Bind only this address (tests use 127.0.0.1); `None` binds the unspecified IPv4 and IPv6 addresses.
    pub bind_addr: Option<IpAddr>,
    /// Relay servers.
    pub relay: RelayChoice,
    /// Announce and look up peers on the local network with mDNS.
    pub mdns: bool,
    /// Ask the gateway for a port mapping (UPnP, PCP, NAT-PMP). Tests MUST leave it off.
    pub portmapper: bool,
    /// Directory of the iroh-blobs file store (created if missing).
    pub blobs_dir: PathBuf,
    /// The blob store's garbage collection; `None` never deletes a blob.
    pub blob_gc: Option<BlobGc>,
    /// With a data key, blobs are sealed at rest in the store at `blobs_dir` (HS-REST-6);
    /// `None` keeps iroh-blobs' plain file store there.
    pub blob_key: Option<crate::keys::DataKey>,
}

impl TransportConfig {
    /// A configuration for tests and LAN use: loopback only, any port, no relay, no mDNS, no portmapper.
    pub fn local(secret_key: [u8; 32], blobs_dir: PathBuf) -> Self {
        TransportConfig {
            secret_key,
            bind_port: 0,
            bind_addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            relay: RelayChoice::Disabled,
            mdns: false,
            portmapper: false,
            blobs_dir,
            blob_gc: None,
            blob_key: None,
        }
    }

    /// The endpoint builder for this configuration, without hooks, ALPNs or mDNS; every path's
    /// congestion controller is chosen by its delay ([`super::congestion`]).
    pub(crate) fn endpoint_builder(&self) -> Result<Builder, TransportError> {
        let mut builder = match &self.relay {
            RelayChoice::Default => iroh::Endpoint::builder(presets::N0),
            RelayChoice::Disabled => {
                iroh::Endpoint::builder(presets::Minimal).relay_mode(RelayMode::Disabled)
            }
            RelayChoice::Custom(url) => {
                iroh::Endpoint::builder(presets::Minimal).relay_mode(RelayMode::custom([url.clone()]))
            }
            // An empty map keeps the relay transport, so that a relay can be added at run time.
            RelayChoice::Adopted => {
                iroh::Endpoint::builder(presets::Minimal).relay_mode(RelayMode::Custom(RelayMap::empty()))
            }
        };
        builder = builder
            .secret_key(iroh::SecretKey::from_bytes(&self.secret_key))
            .transport_config(super::congestion::quic_transport_config());
        builder = builder.portmapper_config(if self.portmapper {
            PortmapperConfig::default()
        } else {
            PortmapperConfig::Disabled
        });
        let bind_error = |e| TransportError::Bind(Box::new(e));
        builder = match self.bind_addr {
            Some(ip) => builder
                .clear_ip_transports()
                .bind_addr(SocketAddr::new(ip, self.bind_port))
                .map_err(bind_error)?,
            None if self.bind_port != 0 => builder
                .bind_addr(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.bind_port))
                .map_err(bind_error)?
                .bind_addr_with_opts(
                    SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), self.bind_port),
                    BindOpts::default().set_is_required(false),
                )
                .map_err(bind_error)?,
            None => builder,
        };
        Ok(builder)
    }
}
