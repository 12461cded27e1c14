//! Remote peers through the server: a paired node periodically asks `GET /devices` (a request
//! signed with its device key, HS-HTTP-3) where the other registered devices were last seen and
//! hands their addresses to the dialer. mDNS covers the LAN; this covers everything else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use humansync_protocol::DeviceId;
use humansync_protocol::http::{DeviceInfo, DevicesResponse};
use tokio::sync::{mpsc, watch};

use crate::driver::Command;
use crate::http_client::{self, Http, HttpError};

/// The API path asked (and signed).
const DEVICES_PATH: &str = "/devices";
/// Addresses kept per device: a server never needs to report more.
const MAX_ADDRS_PER_DEVICE: usize = 16;

/// What the discovery task needs.
pub(crate) struct DiscoveryParams {
    /// The node's HTTP client (with `server_ca_cert`).
    pub(crate) http: Arc<Http>,
    /// This device's key: it signs every request.
    pub(crate) key: SigningKey,
    /// How often to ask.
    pub(crate) interval: Duration,
    /// The server's base URL once the device is paired (nothing to ask before that).
    pub(crate) server: watch::Receiver<Option<String>>,
    /// The driver; the task ends when the node does.
    pub(crate) commands: mpsc::WeakSender<Command>,
}

/// Runs until the node shuts down: after pairing, asks the server every `interval` and feeds the
/// dialer with the addresses of every admitted device but this one.
pub(crate) async fn run(mut params: DiscoveryParams) {
    let me = DeviceId::from(&params.key);
    let mut last_error: Option<String> = None;
    loop {
        let server_url = match params.server.wait_for(Option::is_some).await {
            Ok(url) => url.clone().unwrap_or_default(),
            Err(_) => return, // The node is gone.
        };
        let answer = match fetch_devices(&params.http, &server_url, &params.key).await {
            Err(e) if signed_before_start(&e) => {
                // A request signed before the server (re)started is refused as a possible replay
                // (HS-HTTP-3) — typically one whose connect hung while the server was down. So
                // the server is back: sign again at once rather than an interval later, and count
                // the refusal as a failure, so that the answer that follows says "works again"
                // and a session the restart left half-open is replaced now (HS-TRANSPORT-4).
                tracing::debug!(error = %e, "GET /devices refused the signature; signing again");
                last_error.get_or_insert_with(|| e.to_string());
                fetch_devices(&params.http, &server_url, &params.key).await
            }
            answer => answer,
        };
        match answer {
            Ok(devices) => {
                if last_error.take().is_some() {
                    tracing::info!("GET /devices works again");
                    if let Some(commands) = params.commands.upgrade() {
                        let _ = commands.send(Command::ServerAnswered).await;
                    }
                }
                for (peer, addrs) in peer_addrs(&devices, me) {
                    let Some(commands) = params.commands.upgrade() else {
                        return;
                    };
                    if commands
                        .send(Command::AddPeerAddrs { peer, addrs })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Err(e) => {
                if let HttpError::Status {
                    record: Some(record), ..
                } = &e
                {
                    revoked(&params, record).await;
                }
                // Offline or server down is normal for a local-first app: say it once per cause.
                let text = e.to_string();
                if last_error.as_deref() != Some(&text) {
                    tracing::warn!(error = %text, "GET /devices failed; peers are still found by mDNS and known addresses");
                    last_error = Some(text);
                }
            }
        }
        if params.commands.upgrade().is_none() {
            return;
        }
        tokio::time::sleep(params.interval).await;
    }
}

/// A 403 `revoked` carried this device's Revoked record (HS-GATE-7): hand it to the core, which
/// verifies the server's signature and applies HS-GATE-5 — every session closed, no dial again,
/// the app told. Every peer refuses this device by now, so no `_devices` sync could tell it.
/// Asked again an interval later, the same record changes nothing.
async fn revoked(params: &DiscoveryParams, record: &str) {
    let decoded = hex::decode(record)
        .map_err(|e| e.to_string())
        .and_then(|b| humansync_protocol::SignedRecord::decode(&b).map_err(|e| e.to_string()));
    match decoded {
        Ok(record) => {
            if let Some(commands) = params.commands.upgrade() {
                let _ = commands.send(Command::RegistryRecord(record)).await;
            }
        }
        Err(reason) => tracing::warn!(%reason, "GET /devices: an unreadable Revoked record ignored"),
    }
}

/// Whether the server refused a request's signature (401): after a restart, one signed before it.
fn signed_before_start(e: &HttpError) -> bool {
    matches!(e, HttpError::Status { status, .. } if *status == reqwest::StatusCode::UNAUTHORIZED)
}

/// One signed `GET /devices` (HS-HTTP-3).
pub(crate) async fn fetch_devices(
    http: &Http,
    server_url: &str,
    key: &SigningKey,
) -> Result<Vec<DeviceInfo>, HttpError> {
    let url = http_client::endpoint(server_url, DEVICES_PATH)?;
    let auth = http_client::sign_request(key, "GET", DEVICES_PATH)?;
    let client = http.client()?;
    let request = client.get(url).header(reqwest::header::AUTHORIZATION, auth);
    let response: DevicesResponse = http_client::exchange(request).await?;
    Ok(response.devices)
}

/// The dialable addresses of every device that is neither `me` nor revoked.
fn peer_addrs(devices: &[DeviceInfo], me: DeviceId) -> Vec<(DeviceId, Vec<SocketAddr>)> {
    devices
        .iter()
        .filter(|d| d.node_id != me && d.revoked_at_ms.is_none())
        .filter_map(|d| {
            let addrs: Vec<SocketAddr> = d
                .addrs
                .iter()
                .filter_map(|a| a.parse().ok())
                .take(MAX_ADDRS_PER_DEVICE)
                .collect();
            (!addrs.is_empty()).then_some((d.node_id, addrs))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(seed: u8, revoked: bool, addrs: &[&str]) -> DeviceInfo {
        DeviceInfo {
            node_id: DeviceId::from(&SigningKey::from_bytes(&[seed; 32])),
            name: format!("d{seed}"),
            paired_at_ms: 1,
            revoked_at_ms: revoked.then_some(2),
            addrs: addrs.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn only_other_admitted_devices_with_valid_addresses_are_dialled() {
        let me = device(1, false, &["127.0.0.1:1"]);
        let other = device(2, false, &["127.0.0.1:2", "not an address", "[::1]:3"]);
        let revoked = device(3, true, &["127.0.0.1:4"]);
        let silent = device(4, false, &["garbage"]);
        let found = peer_addrs(&[me.clone(), other.clone(), revoked, silent], me.node_id);
        assert_eq!(
            found,
            vec![(
                other.node_id,
                vec![
                    "127.0.0.1:2".parse().expect("addr"),
                    "[::1]:3".parse().expect("addr")
                ]
            )]
        );
    }

    /// A server that answers the first request 401 (a signature older than its start) and
    /// every later one `devices`; counts the requests.
    async fn restarted_server(devices: Vec<DeviceInfo>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                let _ = tcp.read(&mut buf).await;
                let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (status, body) = if n == 0 {
                    (
                        "401 Unauthorized",
                        r#"{"error":{"code":"unauthorized","message":"request timestamp is older than the server's start: sign it again"}}"#.to_owned(),
                    )
                } else {
                    let body = DevicesResponse {
                        devices: devices.clone(),
                    };
                    ("200 OK", serde_json::to_string(&body).expect("json"))
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(response.as_bytes()).await;
            }
        });
        (url, count)
    }

    /// HS-HTTP-3, HS-TRANSPORT-4: a request refused because it was signed before the server
    /// restarted is signed again at once (not an interval later), and the answer that follows
    /// counts as the server answering again, which replaces a half-open session with it.
    #[tokio::test]
    async fn a_signature_older_than_the_server_is_made_again_at_once() {
        let me = device(1, false, &[]);
        let server = device(2, false, &["127.0.0.1:4433"]);
        let (url, requests) = restarted_server(vec![me.clone(), server.clone()]).await;
        let (commands, mut rx) = mpsc::channel(16);
        let (_url_tx, url_rx) = watch::channel(Some(url));
        let params = DiscoveryParams {
            http: Arc::new(Http::new(None).expect("client")),
            key: SigningKey::from_bytes(&[1; 32]),
            // Far longer than the test: anything it sees came without waiting an interval.
            interval: Duration::from_secs(3600),
            server: url_rx,
            commands: commands.downgrade(),
        };
        let task = tokio::spawn(run(params));
        // (A guard against a hang only: without the fix the next request waits the interval.)
        async fn next(rx: &mut mpsc::Receiver<Command>) -> Command {
            tokio::time::timeout(Duration::from_secs(60), rx.recv())
                .await
                .expect("asked again without waiting an interval")
                .expect("a command")
        }
        let first = next(&mut rx).await;
        assert!(
            matches!(first, Command::ServerAnswered),
            "the answer after the refusal says the server works again"
        );
        let second = next(&mut rx).await;
        assert!(
            matches!(&second, Command::AddPeerAddrs { peer, .. } if *peer == server.node_id),
            "then the server's addresses"
        );
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
        task.abort();
    }

    #[test]
    fn addresses_per_device_are_bounded() {
        let many: Vec<String> = (0..100).map(|p| format!("127.0.0.1:{}", p + 1)).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let found = peer_addrs(&[device(2, false, &many)], device(1, false, &[]).node_id);
        assert_eq!(found[0].1.len(), MAX_ADDRS_PER_DEVICE);
    }
}
