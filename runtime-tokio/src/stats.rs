//! Work counters of a running node ([`crate::Node::stats`]): what benchmarks and metrics read.
//! They describe cost (documents loaded, bytes, round trips), never app state; use
//! [`crate::Node::sync_status`] for that.

use humansync_protocol::DeviceId;
use humansync_sansio::SessionStats;

/// Counters of one sync session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionCounters {
    /// The peer.
    pub peer: DeviceId,
    /// Handshake complete.
    pub open: bool,
    /// Frames, session bytes (headers included) and round trips, as the core counts them.
    pub stats: SessionStats,
    /// Bytes of UDP datagrams the QUIC connection sent (QUIC headers, acks and crypto included).
    pub udp_tx_bytes: u64,
    /// Bytes of UDP datagrams the QUIC connection received.
    pub udp_rx_bytes: u64,
    /// The connection currently goes through a relay rather than a direct path.
    pub relayed: bool,
}

/// What a node did since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// Documents read from disk (load tasks started). Sending a document whole reads its bytes
    /// without parsing them; every other use parses them too.
    pub docs_loaded: u64,
    /// Document saves made durable (save tasks the store answered with success).
    pub saves_done: u64,
    /// Store tasks (loads, saves, deletes) not answered yet: zero means everything received so
    /// far is durable.
    pub io_pending: u64,
    /// Every session the core knows, open or still in its handshake.
    pub sessions: Vec<SessionCounters>,
    /// The relay this node is connected to and reachable through, if any.
    pub home_relay: Option<String>,
}
