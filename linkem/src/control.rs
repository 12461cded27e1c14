//! Driving a lab from other processes: `linkem up` serves a Unix socket
//! (`/run/linkem/{lab}.sock`, mode 0600) taking one JSON [`Request`] per line and answering one
//! JSON line; `linkem set|down|up|stats` are its clients.
//!
//! ```text
//! → {"op":"set","node":"phone","profile":"poor","loss":0.05}
//! ← {"ok":true}
//! → {"op":"link","node":"server","up":false}
//! ← {"ok":true}
//! ```

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::{Lab, LinkError, LinkProfile};

/// Longest request line.
const MAX_LINE: usize = 4096;

/// Where lab `name`'s control socket lives.
pub fn socket_path(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/linkem/{name}.sock"))
}

/// One control request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// Changes a node's link: a named profile, then any of the fields overridden.
    Set {
        /// The node.
        node: String,
        /// A profile name (see [`crate::PROFILES`]); the link's current profile when absent.
        #[serde(default)]
        profile: Option<String>,
        /// Round-trip time the link adds, ms.
        #[serde(default)]
        rtt_ms: Option<u32>,
        /// Jitter each way, ms.
        #[serde(default)]
        jitter_ms: Option<u32>,
        /// Rate in kbit/s; 0 removes the limit.
        #[serde(default)]
        rate_kbit: Option<u64>,
        /// Loss probability each way (0.01 is 1 %).
        #[serde(default)]
        loss: Option<f64>,
    },
    /// Takes a node's link down or up.
    Link {
        /// The node.
        node: String,
        /// Up (true) or down.
        up: bool,
    },
    /// Every link's counters and settings.
    Stats,
    /// Tears the lab down and ends `linkem up`.
    Stop,
}

/// The answer line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request was applied.
    pub ok: bool,
    /// The error, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Stats, for `stats`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// Applies one request to the lab; `Stop` is the server loop's business.
pub fn apply(lab: &mut Lab, request: &Request) -> Result<Option<serde_json::Value>, LinkError> {
    match request {
        Request::Set {
            node,
            profile,
            rtt_ms,
            jitter_ms,
            rate_kbit,
            loss,
        } => {
            let current = lab
                .stats()
                .into_iter()
                .find(|s| &s.node == node)
                .ok_or_else(|| LinkError::NoSuchNode(node.clone()))?
                .profile;
            let mut p = match profile {
                Some(name) => LinkProfile::named(name)
                    .ok_or_else(|| LinkError::Control(format!("unknown profile {name:?}")))?,
                None => current,
            };
            if let Some(v) = rtt_ms {
                p.rtt_ms = *v;
            }
            if let Some(v) = jitter_ms {
                p.jitter_ms = *v;
            }
            if let Some(v) = rate_kbit {
                p.rate_kbit = (*v > 0).then_some(*v);
            }
            if let Some(v) = loss {
                if !(0.0..=1.0).contains(v) {
                    return Err(LinkError::Control(format!("loss {v} is not in 0..=1")));
                }
                p.loss = *v;
            }
            lab.set_profile(node, p)?;
            Ok(None)
        }
        Request::Link { node, up } => lab.set_up(node, *up).map(|()| None),
        Request::Stats => serde_json::to_value(lab.stats())
            .map(Some)
            .map_err(|e| LinkError::Control(e.to_string())),
        Request::Stop => Ok(None),
    }
}

/// Serves the lab's control socket until a `stop` request or `stop` resolves; then removes the
/// socket. The lab itself is dropped by the caller.
pub async fn serve(
    lab: Arc<Mutex<Lab>>,
    name: &str,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), LinkError> {
    let path = socket_path(name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| LinkError::Control(format!("{}: {e}", dir.display())))?;
    }
    let _ = std::fs::remove_file(&path);
    let listener =
        UnixListener::bind(&path).map_err(|e| LinkError::Control(format!("{}: {e}", path.display())))?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| LinkError::Control(e.to_string()))?;
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = stop_rx.recv() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let lab = lab.clone();
                let stop_tx = stop_tx.clone();
                tokio::spawn(async move { let _ = handle(stream, lab, stop_tx).await; });
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

async fn handle(
    stream: UnixStream,
    lab: Arc<Mutex<Lab>>,
    stop: tokio::sync::mpsc::Sender<()>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(MAX_LINE as u64 * 64)).lines();
    while let Some(line) = lines.next_line().await? {
        let response = match serde_json::from_str::<Request>(&line) {
            Err(e) => Response {
                ok: false,
                error: Some(format!("bad request: {e}")),
                result: None,
            },
            Ok(request) => {
                let outcome = {
                    let mut lab = lab.lock().unwrap_or_else(|p| p.into_inner());
                    apply(&mut lab, &request)
                };
                if request == Request::Stop {
                    let _ = stop.send(()).await;
                }
                match outcome {
                    Ok(result) => Response {
                        ok: true,
                        error: None,
                        result,
                    },
                    Err(e) => Response {
                        ok: false,
                        error: Some(e.to_string()),
                        result: None,
                    },
                }
            }
        };
        let mut out = serde_json::to_vec(&response).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
        out.push(b'\n');
        write.write_all(&out).await?;
    }
    Ok(())
}

/// Sends one request to lab `name`'s control socket and returns the answer.
pub fn request(name: &str, request: &Request) -> Result<Response, LinkError> {
    use std::io::{BufRead, Write};
    let path = socket_path(name);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        LinkError::Control(format!(
            "{}: {e} (is `linkem up {name}` running?)",
            path.display()
        ))
    })?;
    let mut line = serde_json::to_vec(request).map_err(|e| LinkError::Control(e.to_string()))?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .map_err(|e| LinkError::Control(e.to_string()))?;
    let mut answer = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(|e| LinkError::Control(e.to_string()))?;
    serde_json::from_str(&answer).map_err(|e| LinkError::Control(format!("bad answer {answer:?}: {e}")))
}
