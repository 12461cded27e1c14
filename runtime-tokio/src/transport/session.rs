//! Sync sessions: one bidirectional stream per connection (HS-TRANSPORT-2), a reader task that
//! forwards received bytes as [`NetEvent`]s, a writer task fed by the send queue.

use std::sync::Arc;
use std::time::Duration;

use humansync_protocol::{CloseCode, DeviceId};
use humansync_sansio::gate::Admission;
use humansync_sansio::{ConnId, Role};
use iroh::endpoint::{Connection, ReadError, RecvStream, SendStream};
use iroh::protocol::{AcceptError, ProtocolHandler};

use super::NetEvent;
use super::convert::{close_code, code_of_error, device_id, var_int};
use super::error::TransportError;
use super::queue::{CLOSE_LINGER, QueueRx, queue, run_writer};
use super::shared::Shared;
use super::table::{LocalClose, SessionEntry, close_with, next_conn_id};

/// Largest chunk forwarded in one [`NetEvent::Bytes`].
pub const READ_CHUNK: usize = 64 * 1024;

/// How long the acceptor waits for the dialer's session stream (HS-VER-3's handshake timeout).
const STREAM_WAIT: Duration = Duration::from_millis(humansync_protocol::limits::HANDSHAKE_TIMEOUT_MS);

/// After the peer finished its half of the stream, how long to wait for its connection close
/// (which carries the code) before closing ourselves.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// The ProtocolHandler for [`humansync_protocol::SYNC_ALPN`]: the acceptor side of sessions.
#[derive(Debug, Clone)]
pub(crate) struct SyncProtocol {
    pub(crate) shared: Arc<Shared>,
}

impl ProtocolHandler for SyncProtocol {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        // The endpoint hook already admitted the peer (HS-GATE-3); nothing reaches here otherwise.
        let Some(peer) = device_id(&conn.remote_id()) else {
            conn.close(var_int(CloseCode::INTERNAL), b"invalid id");
            return Ok(());
        };
        // HS-TRANSPORT-2: the dialer opens exactly one bidirectional stream and writes first.
        let (send, recv) = match tokio::time::timeout(STREAM_WAIT, conn.accept_bi()).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(_)) => return Ok(()),
            Err(_) => {
                conn.close(var_int(CloseCode::TIMEOUT), CloseCode::TIMEOUT.name().as_bytes());
                return Ok(());
            }
        };
        let _ = start_session(&self.shared, conn, send, recv, peer, Role::Acceptor);
        Ok(())
    }
}

/// Registers a session and spawns its task, which emits Connected, then Bytes, then exactly one Closed.
///
/// Re-checks the gate after registering, so a revocation racing with the handshake cannot leave an
/// admitted session behind (HS-GATE-4).
pub(crate) fn start_session(
    shared: &Arc<Shared>,
    conn: Connection,
    send: SendStream,
    recv: RecvStream,
    peer: DeviceId,
    role: Role,
) -> Result<ConnId, TransportError> {
    let id = next_conn_id();
    let (tx, rx) = queue();
    let local = LocalClose::default();
    let entry = SessionEntry {
        peer,
        conn: conn.clone(),
        queue: tx,
        local_close: local.clone(),
    };
    shared.table.insert_session(id, entry);
    if let Admission::Reject(code) = shared.gate.admission(&peer) {
        shared.table.remove_session(id);
        close_with(&conn, &local, code);
        return Err(TransportError::NotAdmitted(code));
    }
    let session = Session {
        shared: shared.clone(),
        conn,
        id,
        local,
    };
    shared.spawn(session.run(send, recv, peer, role, rx));
    Ok(id)
}

/// A registered session, owned by its task.
struct Session {
    shared: Arc<Shared>,
    conn: Connection,
    id: ConnId,
    local: LocalClose,
}

impl Session {
    /// Emits Connected, runs the writer, the stream refuser and the reader, then emits Closed.
    async fn run(self, send: SendStream, recv: RecvStream, peer: DeviceId, role: Role, queue: QueueRx) {
        let Session {
            shared,
            conn,
            id,
            local,
        } = self;
        let connected = NetEvent::Connected { conn: id, peer, role };
        if shared.events.send(connected).await.is_err() {
            close_with(&conn, &local, CloseCode::SHUTDOWN);
            shared.table.remove_session(id);
            return;
        }
        let writer = tokio::spawn(run_writer(send, queue, conn.clone(), local.clone()));
        let refuser = tokio::spawn(refuse_streams(conn.clone()));
        let code = read_loop(&shared, &conn, recv, id, &local).await;
        shared.table.remove_session(id);
        writer.abort();
        refuser.abort();
        let _ = shared.events.send(NetEvent::Closed { conn: id, code }).await;
    }
}

/// Forwards received bytes until the connection ends; returns the close code to report.
async fn read_loop(
    shared: &Shared,
    conn: &Connection,
    mut recv: RecvStream,
    id: ConnId,
    local: &LocalClose,
) -> CloseCode {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match recv.read(&mut buf).await {
            Ok(Some(n)) => {
                let bytes = buf[..n].to_vec();
                if shared
                    .events
                    .send(NetEvent::Bytes { conn: id, bytes })
                    .await
                    .is_err()
                {
                    close_with(conn, local, CloseCode::SHUTDOWN);
                    return CloseCode::SHUTDOWN;
                }
            }
            // The peer finished its half: a close follows (HS-CLOSE-2).
            Ok(None) => return await_close(conn, local, CloseCode::NORMAL).await,
            Err(ReadError::Reset(code)) => return await_close(conn, local, close_code(code)).await,
            Err(ReadError::ConnectionLost(err)) => return code_of_error(&err, local.get().copied()),
            Err(_) => {
                close_with(conn, local, CloseCode::INTERNAL);
                return CloseCode::INTERNAL;
            }
        }
    }
}

/// Waits for the connection close that follows the end of the peer's stream; closes it
/// ourselves with `fallback` if it does not come.
async fn await_close(conn: &Connection, local: &LocalClose, fallback: CloseCode) -> CloseCode {
    match tokio::time::timeout(CLOSE_WAIT.max(CLOSE_LINGER), conn.closed()).await {
        Ok(err) => code_of_error(&err, local.get().copied()),
        Err(_) => {
            close_with(conn, local, fallback);
            local.get().copied().unwrap_or(fallback)
        }
    }
}

/// Refuses every further stream the peer opens, with CLOSE_PROTOCOL (HS-TRANSPORT-2).
async fn refuse_streams(conn: Connection) {
    let code = var_int(CloseCode::PROTOCOL);
    loop {
        tokio::select! {
            bi = conn.accept_bi() => match bi {
                Ok((mut send, mut recv)) => {
                    tracing::debug!(peer = %conn.remote_id().fmt_short(), "refused an additional bidirectional stream");
                    let _ = recv.stop(code);
                    let _ = send.reset(code);
                }
                Err(_) => return,
            },
            uni = conn.accept_uni() => match uni {
                Ok(mut recv) => {
                    tracing::debug!(peer = %conn.remote_id().fmt_short(), "refused a unidirectional stream");
                    let _ = recv.stop(code);
                }
                Err(_) => return,
            },
        }
    }
}
