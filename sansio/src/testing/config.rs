//! How a simulation's network and disks behave ([`SimConfig`]).

/// Network and disk behaviour of a simulation.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// One-way packet latency range, ms.
    pub latency_ms: (u64, u64),
    /// Probability a packet is lost (the transport retransmits it after `rto_ms`).
    pub loss: f64,
    /// Probability a packet is duplicated (the transport discards the copy).
    pub duplicate: f64,
    /// Retransmission delay for a lost packet, ms.
    pub rto_ms: u64,
    /// Largest chunk a transmit is split into, bytes.
    pub max_chunk: usize,
    /// Disk latency range per I/O task, ms.
    pub io_ms: (u64, u64),
    /// How often nodes try to (re)connect to peers they are not connected to, ms.
    pub dial_interval_ms: u64,
    /// Record a transcript of every message.
    pub transcript: bool,
    /// Probability that a dial crosses one from the peer (a fault that exercises the
    /// duplicate-session tie-break, HS-TRANSPORT-3).
    pub crossing_dials: f64,
    /// Every node's [`crate::CoreConfig::max_doc_bytes`]: lowered, documents of a few KiB take
    /// the large-document path of HS-SYNC-9.
    pub max_doc_bytes: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            latency_ms: (1, 20),
            loss: 0.02,
            duplicate: 0.01,
            rto_ms: 50,
            max_chunk: 1200,
            io_ms: (0, 5),
            dial_interval_ms: 500,
            transcript: false,
            crossing_dials: 0.1,
            max_doc_bytes: humansync_protocol::limits::MAX_DOC_BYTES,
        }
    }
}
