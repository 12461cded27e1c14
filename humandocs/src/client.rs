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
/// While another process holds the store (an app starting up, before its socket answers, or
/// another direct command), it keeps trying both for up to [`run::STORE_WAIT`].
pub async fn request(data: &Path, request: Request) -> Result<Value, AppError> {
    let deadline = tokio::time::Instant::now() + run::STORE_WAIT;
    loop {
        if let Some(mut conn) = Connection::open(data).await? {
            return conn.call(&request).await;
        }
        if matches!(request, Request::Watch | Request::Stop) {
            return Err(AppError::NotRunning(data.display().to_string()));
        }
        match run::start_direct(data).await {
            Ok(node) => {
                let app = App::new(node.clone(), data);
                let result = app.handle(request).await;
                node.shutdown().await?;
                return result;
            }
            Err(AppError::Sync(humansync::Error::StoreInUse(_)))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(run::STORE_RETRY).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_waits_while_another_node_holds_the_store() {
        let dir = tempfile::tempdir().expect("dir");
        // What a starting app looks like before its socket answers: the store is held.
        let holder = run::start_direct(dir.path()).await.expect("holder starts");
        let data = dir.path().to_owned();
        let command = tokio::spawn(async move {
            request(
                &data,
                Request::Create {
                    title: "waited".into(),
                    body: String::new(),
                },
            )
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        holder.shutdown().await.expect("holder stops");
        let created = command
            .await
            .expect("task")
            .expect("the command ran once the store was free");
        assert!(created.get("id").is_some(), "{created}");
        let listed = request(dir.path(), Request::List).await.expect("list");
        assert!(listed.to_string().contains("waited"), "{listed}");
    }
}
