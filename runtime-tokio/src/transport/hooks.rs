//! The endpoint-wide gate: every connection, incoming or outgoing, on every ALPN, is
//! admitted or refused right after the TLS handshake (HS-GATE-1, HS-GATE-3).

use humansync_sansio::gate::Admission;
use iroh::endpoint::{AfterHandshakeOutcome, Connection, EndpointHooks, Side};

use super::convert::{device_id, var_int};
use super::gate::Gate;
use super::table::Table;

/// Installed on the endpoint with `Builder::hooks`. Holds no `Endpoint` (that would be a reference cycle).
#[derive(Debug)]
pub(crate) struct GateHooks {
    pub(crate) gate: Gate,
    pub(crate) table: Table,
}

impl EndpointHooks for GateHooks {
    async fn after_handshake<'a>(&'a self, conn: &'a Connection) -> AfterHandshakeOutcome {
        let Some(peer) = device_id(&conn.remote_id()) else {
            return reject(humansync_protocol::CloseCode::NOT_REGISTERED);
        };
        // Register before deciding: a concurrent `Gate::update` + `disconnect_peer` either sees
        // this handle and closes it, or ran first and the decision below sees the new state (HS-GATE-4).
        self.table.register(peer, conn);
        match self.gate.admission(&peer) {
            Admission::Admit => {
                if let Some(left_behind) = self
                    .table
                    .left_behind_by(&peer, conn)
                    .filter(|_| conn.side() == Side::Server)
                {
                    // HS-TRANSPORT-5: iroh 1.4 keeps sending new connections' handshakes to the
                    // address selected for the peer while any connection with it is open, and
                    // selects anew only when one is added (not when one closes). Close the ones
                    // left behind and refuse this one: the peer's next dial finds none open.
                    let closed = self
                        .table
                        .disconnect_peer(&peer, humansync_protocol::CloseCode::DUPLICATE);
                    tracing::info!(
                        %peer,
                        closed,
                        ?left_behind,
                        "peer reached us from a new address: older connections closed, this one refused once"
                    );
                    return reject(humansync_protocol::CloseCode::DUPLICATE);
                }
                self.table.remember_addrs(peer, conn);
                AfterHandshakeOutcome::Accept
            }
            Admission::Reject(code) => {
                self.table.unregister(&peer, conn);
                let side = match conn.side() {
                    Side::Client => "outgoing",
                    Side::Server => "incoming",
                };
                tracing::debug!(%peer, %code, side, alpn = %String::from_utf8_lossy(conn.alpn()), "gate refused connection");
                reject(code)
            }
        }
    }
}

/// Refuse with the gate's close code and no reason bytes beyond its name; nothing else is sent (HS-CLOSE-2).
fn reject(code: humansync_protocol::CloseCode) -> AfterHandshakeOutcome {
    AfterHandshakeOutcome::Reject {
        error_code: var_int(code),
        reason: code.name().as_bytes().to_vec(),
    }
}
