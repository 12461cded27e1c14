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

/// Counters that only grow while a node runs (Prometheus counters): what it did since it started.
/// Every one is the core's own count (`humansync_sansio::Core::totals`): sessions opened, sync
/// bytes in and out, exchanges, remote changes, quarantines, blobs arrived, devices revoked and
/// dials started are all inputs or outputs of the core, so the driver keeps no copy.
pub type NodeTotals = humansync_sansio::Totals;

/// The blobs a node holds and what its retention did (HS-BLOB-4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobStats {
    /// Blobs held complete.
    pub held: u64,
    /// Their payload bytes.
    pub held_bytes: u64,
    /// Held blobs no live document references and not pinned, waiting for their grace period.
    pub pending_deletion: u64,
    /// Their payload bytes.
    pub pending_deletion_bytes: u64,
    /// Blobs the app pinned.
    pub pinned: u64,
    /// Blobs released since start: untagged, their bytes deleted at the blob store's next sweep.
    pub deleted: u64,
    /// Their payload bytes.
    pub deleted_bytes: u64,
    /// The grace period.
    pub grace: std::time::Duration,
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
    /// Stored documents parsed by Automerge since start (a load that only sends the bytes whole
    /// parses nothing).
    pub docs_parsed: u64,
    /// Received changes appended to a stored document without parsing it (issue 22 §1).
    pub changes_appended: u64,
    /// Durable write batches the store made since start: one log sync each, however many
    /// saves a batch holds (HS-SYNC-8).
    pub store_batches: u64,
    /// Store tasks (loads, saves, deletes) not answered yet: zero (with `writes_refused`) means
    /// everything received so far is durable.
    pub io_pending: u64,
    /// Documents whose last write the store refused (a full disk): held in memory and written
    /// again by the node itself until the store takes them (issue 20).
    pub writes_refused: u64,
    /// Every session the core knows, open or still in its handshake.
    pub sessions: Vec<SessionCounters>,
    /// The relay this node is connected to and reachable through, if any.
    pub home_relay: Option<String>,
    /// Sessions open now (handshake complete).
    pub sessions_open: u64,
    /// Live documents held now.
    pub documents: u64,
    /// Referenced blobs not held yet.
    pub blobs_missing: u64,
    /// Counters since start.
    pub totals: NodeTotals,
    /// Bytes on disk of the document store (`storage_path/store`: files, log, index, quarantine).
    pub store_bytes: u64,
    /// Bytes on disk of the blob store (`storage_path/blobs`).
    pub blob_bytes: u64,
    /// Blobs held, waiting for deletion and deleted (HS-BLOB-4).
    pub blobs: BlobStats,
    /// Files in the store's quarantine directory now (from this run or earlier ones).
    pub quarantined_files: u64,
}

/// Bytes of the regular files under `dir` (recursively; symlinks not followed; 0 when absent).
pub(crate) fn disk_usage(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Regular files directly in `dir` (0 when absent).
pub(crate) fn files_in(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .count() as u64
    })
}
