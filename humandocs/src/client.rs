//! The scripted side of the socket interface: send a request to the running app, or — when none
//! runs — open the data directory directly for the one request.

use std::path::Path;

use serde_json::Value;
use tokio::io::BufReader;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::app::App;
use crate::ipc::{self, Request, Response};
use crate::server::socket_path;
use crate::{AppError, run};

/// A connection to the running app.
pub struct Connection {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Connection {
    /// Connects to the app serving `data`; `None` when no app is running there.
    pub async fn open(data: &Path) -> Result<Option<Connection>, AppError> {
        match UnixStream::connect(socket_path(data)).await {
            Ok(stream) => {
                let (read, write) = stream.into_split();
                Ok(Some(Connection {
                    read: BufReader::new(read),
                    write,
                }))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(AppError::io("connecting to the running app")(e)),
        }
    }

    /// Sends one request and reads one answer.
    pub async fn call(&mut self, request: &Request) -> Result<Value, AppError> {
        ipc::write_line(&mut self.write, request).await?;
        self.next().await
    }

    /// Reads the next answer line (for `watch`, one per event).
    pub async fn next(&mut self) -> Result<Value, AppError> {
        let line = ipc::read_line(&mut self.read)
            .await?
            .ok_or_else(|| AppError::Internal("the app closed the connection".into()))?;
        let response: Response = serde_json::from_slice(&line)
            .map_err(|e| AppError::Internal(format!("bad answer from the app: {e}")))?;
        match (response.ok, response.result, response.error) {
            (true, Some(v), _) => Ok(v),
            (_, _, Some(e)) => Err(AppError::Remote {
                code: e.code,
                message: e.message,
            }),
            _ => Err(AppError::Internal("empty answer from the app".into())),
        }
    }
}

/// Runs one request: through the running app when there is one, else on the store directly
/// (a short-lived node on loopback, mDNS off; it syncs with the server if paired and reachable).
pub async fn request(data: &Path, request: Request) -> Result<Value, AppError> {
    if let Some(mut conn) = Connection::open(data).await? {
        return conn.call(&request).await;
    }
    if matches!(request, Request::Watch | Request::Stop) {
        return Err(AppError::NotRunning(data.display().to_string()));
    }
    let node = run::start_direct(data).await?;
    let app = App::new(node.clone(), data);
    let result = app.handle(request).await;
    node.shutdown().await?;
    result
}
