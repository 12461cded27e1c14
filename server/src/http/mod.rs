//! The HTTP API of SPEC.md §5 on axum: routes, shared state, client addresses.
//! `server/openapi.yaml` describes the same routes and bodies.

mod answer;
mod devices;
mod error;
mod health;
mod invite;
mod limit;
pub mod listener;
mod login;
mod pair;
mod revoke;
mod signed;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::routing::{delete, get, post};
use axum::serve::IncomingStream;
use humansync_protocol::DeviceId;

pub use error::ApiError;

use crate::clock::Clock;
use crate::guard::Guard;
use crate::logins::Logins;
use crate::password::PasswordStore;
use crate::proxy::TrustedProxies;
use crate::registry::Registry;
use crate::replay::ReplayCache;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The registry and the cloud peer.
    pub registry: Registry,
    /// The OPAQUE keys and password record (HS-PAIR-1).
    pub password: PasswordStore,
    /// Brute-force guard of unauthenticated password logins, by client address (HS-PAIR-2).
    pub guard: Guard,
    /// The owner's guard: revocation logins signed by a registered device, by device id, with
    /// no global limit or lockout that others could trigger (HS-PAIR-7).
    pub owner_guard: Guard<DeviceId>,
    /// Brute-force guard of invitation redemptions, by client address (HS-INV-5).
    pub invite_guard: Guard,
    /// Logins between start and finish (HS-PAIR-11).
    pub logins: Logins,
    /// When this process started, unix ms: older signed requests are refused (HS-HTTP-3).
    pub started_at_ms: u64,
    /// Accepted signed-request nonces (HS-HTTP-3).
    pub replay: ReplayCache,
    /// Wall clock.
    pub clock: Clock,
    /// The server's device id (the registry anchor).
    pub server_id: DeviceId,
    /// Addresses announced before the node's own (e.g. the host's public `ip:port`).
    pub public_addrs: Vec<String>,
    /// The node's own direct addresses.
    pub node_addrs: Vec<SocketAddr>,
    /// The relay announced to devices (HS-RELAY-3).
    pub relay: AnnouncedRelay,
    /// Reverse proxies whose `X-Forwarded-For` names the client (HS-PAIR-10).
    pub trusted_proxies: TrustedProxies,
}

/// Which relay the pairing answer announces (`relay_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnouncedRelay {
    /// None: devices keep their own relay settings.
    None,
    /// This URL (`--relay URL`, or `--relay-public-url`).
    Url(String),
    /// The embedded relay, on this port of the host name the device used to reach the API.
    SameHost {
        /// The relay's TCP port.
        port: u16,
    },
}

impl AnnouncedRelay {
    /// The `relay_url` for a request with these headers. [`AnnouncedRelay::SameHost`] needs a
    /// valid `Host` header; without one nothing is announced.
    pub fn url_for(&self, headers: &axum::http::HeaderMap) -> Option<String> {
        match self {
            AnnouncedRelay::None => None,
            AnnouncedRelay::Url(url) => Some(url.clone()),
            AnnouncedRelay::SameHost { port } => {
                let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
                let authority: axum::http::uri::Authority = host.parse().ok()?;
                Some(format!("http://{}:{port}", authority.host()))
            }
        }
    }
}

impl AppState {
    /// `server_addrs` of the pairing answer: public addresses first, then the endpoint's own.
    pub fn server_addrs(&self) -> Vec<String> {
        let mut out = self.public_addrs.clone();
        for addr in &self.node_addrs {
            let text = addr.to_string();
            if !out.contains(&text) {
                out.push(text);
            }
        }
        out
    }
}

/// The TCP peer's address: the rate-limit source (HS-PAIR-2) unless it is a trusted proxy
/// forwarding the client's (HS-PAIR-10, [`TrustedProxies::source`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, tls::TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, tls::TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// The API's routes (HS-HTTP-1..8, HS-INV-2..3). Serve with `into_make_service_with_connect_info::<ClientAddr>()`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/pair", post(pair::legacy_pair).fallback(health::not_found))
        .route("/pair/start", post(pair::pair_start).fallback(health::not_found))
        .route(
            "/pair/finish",
            post(pair::pair_finish).fallback(health::not_found),
        )
        .route("/devices", get(devices::list).fallback(health::not_found))
        .route(
            "/devices/{node_id}",
            delete(revoke::revoke).fallback(health::not_found),
        )
        .route(
            "/devices/{node_id}/revoke/start",
            post(revoke::revoke_start).fallback(health::not_found),
        )
        .route("/invitations", post(invite::create).fallback(health::not_found))
        .route(
            "/invitations/redeem",
            post(invite::redeem).fallback(health::not_found),
        )
        .route("/health", get(health::health).fallback(health::not_found))
        .fallback(health::not_found)
        .layer(axum::middleware::from_fn(limit::limit_body))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn host(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn the_embedded_relay_is_announced_on_the_host_the_device_used() {
        // HS-RELAY-1
        let same = AnnouncedRelay::SameHost { port: 3340 };
        assert_eq!(
            same.url_for(&host("sync.example.org:8080")).as_deref(),
            Some("http://sync.example.org:3340")
        );
        assert_eq!(
            same.url_for(&host("sync.example.org")).as_deref(),
            Some("http://sync.example.org:3340")
        );
        assert_eq!(
            same.url_for(&host("[2001:db8::1]:8080")).as_deref(),
            Some("http://[2001:db8::1]:3340")
        );
        assert_eq!(
            same.url_for(&HeaderMap::new()),
            None,
            "no Host, nothing announced"
        );
        assert_eq!(same.url_for(&host("bad host/x")), None);
        let fixed = AnnouncedRelay::Url("https://relay.example.org".into());
        assert_eq!(
            fixed.url_for(&host("10.0.0.1:8080")).as_deref(),
            Some("https://relay.example.org")
        );
        assert_eq!(AnnouncedRelay::None.url_for(&host("x:1")), None);
    }
}
