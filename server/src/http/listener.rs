//! The API's accept loop (HS-HTTP-9): a connection cap, a per-source connection cap, a
//! header-read timeout and a connection lifetime, so that slow or idle clients cannot hold the
//! server's sockets (issue 16 §2). axum's `serve` has none of these knobs; this loop serves each
//! connection with hyper's HTTP/1 builder instead.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};

use super::ClientAddr;

use humansync_protocol::limits::{
    HTTP_BODY_READ_TIMEOUT_MS, HTTP_CONNECTION_LIFETIME_MS, HTTP_HEADER_READ_TIMEOUT_MS,
    HTTP_MAX_CONNECTIONS, HTTP_MAX_CONNECTIONS_PER_IP,
};

/// Most connections open at once.
pub const MAX_CONNECTIONS: usize = HTTP_MAX_CONNECTIONS;
/// Most connections open at once from one IP address (a trusted proxy counts as one source).
pub const MAX_CONNECTIONS_PER_IP: usize = HTTP_MAX_CONNECTIONS_PER_IP;
/// Time a client has to send a request's headers, from the connection's start or the end of the
/// previous request.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(HTTP_HEADER_READ_TIMEOUT_MS);
/// Time a client has to send a request's body (HS-HTTP-1, [`super::limit::read_body`]).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_millis(HTTP_BODY_READ_TIMEOUT_MS);
/// How long a shutdown lets requests in flight complete before their connections are dropped
/// (within the server's shutdown budget, `SHUTDOWN_BUDGET`).
pub const HTTP_DRAIN: Duration = Duration::from_secs(3);
/// A connection is closed after this long (gracefully: a request in flight completes), so an
/// idle keep-alive connection holds its slot at most this long.
pub const CONNECTION_LIFETIME: Duration = Duration::from_millis(HTTP_CONNECTION_LIFETIME_MS);

/// Open connections per IP address.
#[derive(Debug, Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

impl PerIp {
    fn try_take(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_default();
        if *n >= MAX_CONNECTIONS_PER_IP {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

/// One connection's place in [`PerIp`], given back on drop.
struct IpSlot(Arc<PerIp>, IpAddr);

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = (self.0).0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// Serves `app` on `listener` until `stopped` turns true; then stops accepting and lets the
/// open connections finish their requests.
pub async fn serve<L>(mut listener: L, app: Router, mut stopped: watch::Receiver<bool>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let total = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_ip = Arc::new(PerIp::default());
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|s| *s) => break,
        };
        // Over a cap the connection is closed at once, unread: it costs nothing to keep.
        let Ok(permit) = total.clone().try_acquire_owned() else {
            tracing::debug!(%addr, "connection refused: {MAX_CONNECTIONS} open");
            continue;
        };
        let Some(slot) = per_ip.try_take(addr.ip()) else {
            tracing::debug!(%addr, "connection refused: {MAX_CONNECTIONS_PER_IP} open from this address");
            continue;
        };
        let service =
            TowerToHyperService::new(app.clone().layer(axum::Extension(ConnectInfo(ClientAddr(addr)))));
        let mut stopped = stopped.clone();
        tasks.spawn(async move {
            let _held = (permit, slot);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(io), service);
            tokio::pin!(connection);
            let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
            tokio::pin!(lifetime);
            let mut closing = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(%addr, "connection: {e}");
                        }
                        return;
                    }
                    _ = &mut lifetime, if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    _ = stopped.wait_for(|s| *s), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    // Requests in flight complete (the connections close gracefully), within a bound.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(HTTP_DRAIN, drain).await.is_err() {
        tracing::warn!("HTTP connections still open {HTTP_DRAIN:?} after shutdown: dropped");
    }
}
