//! The running app's side of the socket interface (see [`crate::ipc`] for the protocol).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::io::BufReader;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, watch};

use crate::app::App;
use crate::ipc::{self, Request, Response};
use crate::{AppError, events};

/// The socket path of a data directory.
pub fn socket_path(data: &Path) -> PathBuf {
    data.join(ipc::SOCKET_NAME)
}

/// A bound socket; removes its file when dropped.
pub struct Listener {
    inner: UnixListener,
    path: PathBuf,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `<data>/humandocs.sock` (mode 0600). Fails when another app already serves it; a stale
/// file left by a crash is replaced.
pub fn bind(data: &Path) -> Result<Listener, AppError> {
    let path = socket_path(data);
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(AppError::BadRequest(format!(
                "another humandocs app is already running on {}",
                data.display()
            )));
        }
        std::fs::remove_file(&path).map_err(AppError::io(format!("removing stale {}", path.display())))?;
    }
    let inner = UnixListener::bind(&path).map_err(AppError::io(format!("binding {}", path.display())))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(AppError::io(format!("chmod {}", path.display())))?;
    Ok(Listener { inner, path })
}

/// Resolves once `stop` holds true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves clients until `stop` turns true (a `stop` request sets it too).
pub async fn serve(listener: Listener, app: App, stop: watch::Sender<bool>) {
    let mut stop_rx = stop.subscribe();
    loop {
        tokio::select! {
            accepted = listener.inner.accept() => match accepted {
                Ok((stream, _)) => {
                    let (app, stop) = (app.clone(), stop.clone());
                    tokio::spawn(async move {
                        if let Err(e) = connection(stream, app, stop).await {
                            tracing::debug!("socket client: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("socket accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            _ = stopped(&mut stop_rx) => break,
        }
    }
}

async fn connection(stream: UnixStream, app: App, stop: watch::Sender<bool>) -> Result<(), AppError> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    while let Some(line) = ipc::read_line(&mut read).await? {
        let request: Request = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                let err = AppError::BadRequest(e.to_string());
                ipc::write_line(&mut write, &Response::err(&err)).await?;
                continue;
            }
        };
        match request {
            Request::Watch => return watch_events(&app, &mut write, stop.subscribe()).await,
            Request::Stop => {
                ipc::write_line(&mut write, &Response::ok(serde_json::json!({ "stopping": true }))).await?;
                let _ = stop.send(true);
                return Ok(());
            }
            other => {
                let response = Response::from_result(app.handle(other).await);
                ipc::write_line(&mut write, &response).await?;
            }
        }
    }
    Ok(())
}

/// Streams events as response lines until the client hangs up or the app stops.
async fn watch_events(
    app: &App,
    write: &mut tokio::net::unix::OwnedWriteHalf,
    mut stop: watch::Receiver<bool>,
) -> Result<(), AppError> {
    let mut events = app.node().events();
    ipc::write_line(write, &Response::ok(serde_json::json!({ "event": "watching" }))).await?;
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = stopped(&mut stop) => return Ok(()),
        };
        let json = match event {
            Ok(e) => match events::to_json(&e) {
                Some(j) => j,
                None => continue,
            },
            Err(broadcast::error::RecvError::Lagged(n)) => {
                serde_json::json!({ "event": "lagged", "missed": n })
            }
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        };
        ipc::write_line(write, &Response::ok(json)).await?;
    }
}
