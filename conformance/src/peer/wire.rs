//! A raw connection to the node under test: real iroh (QUIC + TLS with raw Ed25519 keys), relays
//! and discovery off, one endpoint per runner identity. Frames are written and read byte for
//! byte, so the runner can send what a conforming peer never would (HS-FRAME-*, HS-VER-*) and
//! observe exactly what the node answers and which close code it applies (HS-CLOSE-1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use humansync_protocol::{CloseCode, DeviceId, FrameDecoder, FrameError, Message, encode_frame};
use iroh::endpoint::{
    ApplicationClose, ConnectError, ConnectingError, Connection, ConnectionError, PortmapperConfig,
    ReadError, RecvStream, SendStream, presets,
};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode, SecretKey, TransportAddr};
use tokio::time::{Instant, timeout_at};

use super::PeerError;

/// How a connection ended, as the runner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The node closed the connection with this QUIC application code (HS-CLOSE-1).
    Closed(CloseCode),
    /// Nothing ended it before the deadline.
    StillOpen,
    /// Anything else (transport error, idle timeout, our own close), described.
    Other(String),
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Closed(code) => write!(f, "closed with {} ({})", code.0, code.name()),
            Ending::StillOpen => write!(f, "still open at the deadline"),
            Ending::Other(what) => write!(f, "{what}"),
        }
    }
}

/// What the node sent on a connection until it ended.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Session-stream bytes received.
    pub bytes: usize,
    /// Whole messages decoded from them, in order.
    pub messages: Vec<Message>,
    /// The frames did not decode (the node sent something malformed).
    pub malformed: Option<FrameError>,
    /// How the connection ended.
    pub end: Ending,
}

impl Observed {
    /// A one-line description for a report.
    pub fn describe(&self) -> String {
        let kinds: Vec<&str> = self.messages.iter().map(Message::kind).collect();
        format!("{} bytes received ({kinds:?}); {}", self.bytes, self.end)
    }
}

/// One runner identity: an iroh endpoint bound to a fresh UDP port.
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    endpoint: Endpoint,
    /// This identity's device id.
    pub(crate) id: DeviceId,
}

impl Dialer {
    /// Binds an endpoint for `secret` on the unspecified address of `family`'s IP version
    /// (port 0), with relays, address lookup and the portmapper off.
    pub(crate) async fn bind(secret: [u8; 32], family: &SocketAddr) -> Result<Dialer, PeerError> {
        let key = SecretKey::from_bytes(&secret);
        let id = DeviceId::from_bytes(*key.public().as_bytes())
            .map_err(|e| PeerError::Setup(format!("iroh key is not a device id: {e}")))?;
        let bind = match family.ip() {
            IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        };
        let endpoint = Endpoint::builder(presets::Minimal)
            .relay_mode(RelayMode::Disabled)
            .portmapper_config(PortmapperConfig::Disabled)
            .secret_key(key)
            .clear_ip_transports()
            .bind_addr(bind)
            .map_err(|e| PeerError::Setup(format!("bind {bind}: {e}")))?
            .bind()
            .await
            .map_err(|e| PeerError::Setup(format!("bind {bind}: {e}")))?;
        Ok(Dialer { endpoint, id })
    }

    /// Connects to the node on `alpn`. A refusal by the node's gate that wins the race with
    /// the handshake comes back as `Err(Ending::Closed(code))`.
    pub(crate) async fn connect(&self, target: &super::Target, alpn: &[u8]) -> Result<Connection, Ending> {
        let id = EndpointId::from_bytes(target.node.as_bytes())
            .map_err(|e| Ending::Other(format!("node id is not an iroh endpoint id: {e}")))?;
        let addr = EndpointAddr::new(id).with_addrs(target.addrs.iter().copied().map(TransportAddr::Ip));
        match tokio::time::timeout(target.timeout, self.endpoint.connect(addr, alpn)).await {
            Err(_) => Err(Ending::Other("connect timed out".into())),
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(connect_ending(&e)),
        }
    }

    /// Connects on the sync ALPN and opens the session stream (HS-TRANSPORT-2).
    pub(crate) async fn session(&self, target: &super::Target) -> Result<Wire, Ending> {
        let conn = self.connect(target, humansync_protocol::SYNC_ALPN).await?;
        let (send, recv) = conn.open_bi().await.map_err(|e| connection_ending(&e))?;
        Ok(Wire {
            conn,
            send,
            recv,
            decoder: FrameDecoder::new(),
            bytes: 0,
        })
    }

    /// Closes the endpoint (every connection with CLOSE_NORMAL).
    pub(crate) async fn close(&self) {
        self.endpoint.close().await;
    }
}

/// The session stream of one connection, read frame by frame.
#[derive(Debug)]
pub(crate) struct Wire {
    /// The QUIC connection.
    pub(crate) conn: Connection,
    send: SendStream,
    recv: RecvStream,
    decoder: FrameDecoder,
    bytes: usize,
}

impl Wire {
    /// Writes raw bytes (whole frames, or deliberately broken ones). A write error means the
    /// node already closed; what it closed with is found by reading.
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.send.write_all(bytes).await;
    }

    /// Frames and writes one message.
    pub(crate) async fn send(&mut self, msg: &Message) -> Result<(), PeerError> {
        let bytes = encode_frame(msg).map_err(|e| PeerError::Setup(format!("encode {}: {e}", msg.kind())))?;
        self.send_raw(&bytes).await;
        Ok(())
    }

    /// The next whole message, or how the connection ended first.
    pub(crate) async fn next_message(&mut self, deadline: Instant) -> Result<Message, Ending> {
        loop {
            match self.decoder.next_message() {
                Ok(Some(msg)) => return Ok(msg),
                Ok(None) => {}
                Err(e) => return Err(Ending::Other(format!("the node sent a malformed frame: {e}"))),
            }
            match self.read_chunk(deadline).await {
                Ok(true) => {}
                Ok(false) => return Err(self.wait_closed(deadline).await),
                Err(end) => return Err(end),
            }
        }
    }

    /// Reads until the connection ends (or `deadline`), collecting every message.
    pub(crate) async fn observe_close(mut self, deadline: Instant) -> Observed {
        let mut messages = Vec::new();
        let mut malformed = None;
        let end = loop {
            if malformed.is_none() {
                loop {
                    match self.decoder.next_message() {
                        Ok(Some(msg)) => messages.push(msg),
                        Ok(None) => break,
                        Err(e) => {
                            malformed = Some(e);
                            break;
                        }
                    }
                }
            }
            match self.read_chunk(deadline).await {
                Ok(true) => {}
                Ok(false) => break self.wait_closed(deadline).await,
                Err(end) => break end,
            }
        };
        Observed {
            bytes: self.bytes,
            messages,
            malformed,
            end,
        }
    }

    /// The next raw chunk of the session stream, undecoded (for a driver that frames itself),
    /// or how the connection ended; `Err(Ending::StillOpen)` at the deadline.
    pub(crate) async fn read_raw(&mut self, deadline: Instant) -> Result<Vec<u8>, Ending> {
        match timeout_at(deadline, self.recv.read_chunk(64 * 1024)).await {
            Err(_) => Err(Ending::StillOpen),
            Ok(Ok(Some(chunk))) => {
                self.bytes += chunk.len();
                Ok(chunk.to_vec())
            }
            Ok(Ok(None)) | Ok(Err(ReadError::Reset(_))) => {
                Err(self.wait_closed(Instant::now() + Duration::from_secs(5)).await)
            }
            Ok(Err(ReadError::ConnectionLost(e))) => Err(connection_ending(&e)),
            Ok(Err(e)) => Err(Ending::Other(e.to_string())),
        }
    }

    /// Finishes our send stream and waits (until `deadline`) for the node to acknowledge every
    /// byte, so that closing the connection afterwards does not discard frames still queued.
    pub(crate) async fn finish(&mut self, deadline: Instant) {
        if self.send.finish().is_ok() {
            let _ = timeout_at(deadline, self.send.stopped()).await;
        }
    }

    /// Closes the connection ourselves with `code`.
    pub(crate) fn close(&self, code: CloseCode) {
        self.conn.close(code.0.into(), code.name().as_bytes());
    }

    /// Reads one chunk into the decoder: `Ok(true)` if bytes came, `Ok(false)` if the stream
    /// finished, `Err` if the connection ended or the deadline passed.
    async fn read_chunk(&mut self, deadline: Instant) -> Result<bool, Ending> {
        match timeout_at(deadline, self.recv.read_chunk(64 * 1024)).await {
            Err(_) => Err(Ending::StillOpen),
            Ok(Ok(Some(chunk))) => {
                self.bytes += chunk.len();
                self.decoder.push(&chunk);
                Ok(true)
            }
            Ok(Ok(None)) => Ok(false),
            Ok(Err(ReadError::ConnectionLost(e))) => Err(connection_ending(&e)),
            // The stream was reset or stopped: the connection close that follows carries the code.
            Ok(Err(_)) => Ok(false),
        }
    }

    async fn wait_closed(&self, deadline: Instant) -> Ending {
        match timeout_at(deadline, self.conn.closed()).await {
            Err(_) => Ending::StillOpen,
            Ok(e) => connection_ending(&e),
        }
    }
}

/// The close code of an application close (codes beyond `u32` read as PROTOCOL, HS-CLOSE-3).
fn code_of(close: &ApplicationClose) -> CloseCode {
    u32::try_from(close.error_code.into_inner()).map_or(CloseCode::PROTOCOL, CloseCode)
}

/// How a connection error ends a connection.
pub(crate) fn connection_ending(e: &ConnectionError) -> Ending {
    match e {
        ConnectionError::ApplicationClosed(close) => Ending::Closed(code_of(close)),
        other => Ending::Other(other.to_string()),
    }
}

/// How a connect error ends a connection.
fn connect_ending(e: &ConnectError) -> Ending {
    match e {
        ConnectError::Connecting {
            source: ConnectingError::ConnectionError { source, .. },
            ..
        }
        | ConnectError::Connection { source, .. } => connection_ending(source),
        other => Ending::Other(format!("connect failed: {other}")),
    }
}

/// `now + d`.
pub(crate) fn after(d: Duration) -> Instant {
    Instant::now() + d
}
