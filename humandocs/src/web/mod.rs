//! The browser UI: an HTTP server on loopback serving the page and a small JSON API over the app.
//!
//! - [`guard`]: `Host` and `Origin` checks on every request (DNS rebinding, CSRF).
//! - [`notes`], [`live`]: notes and live body edits as Automerge splices.
//! - [`sync`]: status, pairing, revocation and the server-sent event stream.
//! - [`assets`]: the embedded page.
//!
//! `humandocs --data DIR` (or `humandocs ui`) starts the node and this server on
//! `http://127.0.0.1:PORT` (see [`bind`]) and prints the address.

pub mod assets;
pub mod error;
pub mod files;
pub mod guard;
pub mod history;
pub mod interleave;
pub mod live;
pub mod notes;
pub mod sync;

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::AppError;
use crate::app::App;

/// The port tried first when none is given.
pub const DEFAULT_PORT: u16 = 4580;

/// Binds `127.0.0.1:port`; when `port` is the default and taken (another app on another data
/// directory), any free port instead.
pub async fn bind(port: u16) -> Result<TcpListener, AppError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if port == DEFAULT_PORT && e.kind() == std::io::ErrorKind::AddrInUse => {
            TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .await
                .map_err(AppError::io("binding the UI server"))
        }
        Err(e) => Err(AppError::io(format!("binding the UI server to {addr}"))(e)),
    }
}

/// The routes for a server answering on `port`.
pub fn router(app: App, port: u16, stop: watch::Receiver<bool>) -> Router {
    let api = Router::new()
        .route("/api/notes", get(notes::list).post(notes::create))
        .route("/api/notes/{id}", get(notes::show).delete(notes::delete))
        .route("/api/notes/{id}/title", put(notes::set_title))
        .route("/api/notes/{id}/splice", post(notes::splice))
        .route("/api/notes/{id}/catchup", get(notes::catchup))
        .route("/api/notes/{id}/attachments", post(files::upload))
        .route("/api/notes/{id}/attachments/{name}", get(files::download))
        .route("/api/notes/{id}/attachments/{name}/state", get(files::state))
        .route("/api/notes/{id}/history", get(history::list))
        .route("/api/notes/{id}/version", get(history::show))
        .route("/api/notes/{id}/restore", post(history::restore_version))
        .route("/api/status", get(sync::status))
        .route("/api/pair", post(sync::pair))
        .route("/api/revoke", post(sync::revoke))
        .route("/api/invite", post(sync::invite))
        .with_state(app.clone());
    let events = Router::new()
        .route("/api/events", get(sync::stream))
        .with_state(sync::EventsState { app, stop });
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/style.css", get(assets::style))
        .merge(api)
        .merge(events)
        .layer(axum::middleware::from_fn_with_state(
            guard::Allowed::loopback(port),
            guard::middleware,
        ))
}

/// The running UI server.
pub struct UiServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl UiServer {
    /// The page's address, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Waits until the server has stopped (after the stop signal).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Serves the UI on `listener` until `stop` turns true.
pub fn spawn(listener: TcpListener, app: App, stop: watch::Receiver<bool>) -> Result<UiServer, AppError> {
    let addr = listener
        .local_addr()
        .map_err(AppError::io("reading the UI address"))?;
    let router = router(app, addr.port(), stop.clone());
    let mut until = stop;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { crate::server::stopped(&mut until).await })
            .await;
        if let Err(e) = served {
            tracing::warn!("UI server: {e}");
        }
    });
    Ok(UiServer { addr, task })
}
