//! What the driver reports to the app: sync status and node statistics, read from the core and
//! the transport when asked (nothing is mirrored).

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Driver, blob_keeper};
use crate::transport::Transport;
use crate::{NodeStats, PeerStatus, SessionCounters, SyncStatus};

impl Driver {
    pub(super) fn status(&self) -> SyncStatus {
        let st = self.core.status();
        SyncStatus {
            peers: st
                .peers
                .iter()
                .filter(|p| p.open)
                .map(|p| PeerStatus {
                    peer: p.peer,
                    up_to_date: p.up_to_date,
                    outstanding: p.outstanding,
                })
                .collect(),
            lan_peers: self
                .transport
                .lan_peers()
                .into_keys()
                .filter(|p| self.core.gate().admit(p).is_admit())
                .collect(),
            docs: st.docs,
            docs_pending: st.docs_pending,
            blobs_missing: st.blobs_missing,
            last_sync: st.last_sync.map(|t| self.base_wall + Duration::from_millis(t.0)),
        }
    }

    pub(super) fn stats(&self) -> NodeStats {
        let sessions = self
            .core
            .status()
            .peers
            .iter()
            .map(|p| {
                let (udp_tx_bytes, udp_rx_bytes) =
                    self.transport.session_udp_bytes(p.conn).unwrap_or_default();
                SessionCounters {
                    peer: p.peer,
                    open: p.open,
                    stats: p.stats,
                    udp_tx_bytes,
                    udp_rx_bytes,
                    relayed: self.transport.session_relayed(p.conn).unwrap_or(false),
                }
            })
            .collect();
        let status = self.core.status();
        let io = self.core.io_counts();
        NodeStats {
            docs_loaded: io.loads,
            saves_done: io.saves_done,
            docs_parsed: io.parses,
            changes_appended: io.appends,
            store_batches: self.store.batches(),
            io_pending: io.disk_pending,
            writes_refused: self.core.writes_refused() as u64,
            sessions_open: status.peers.iter().filter(|p| p.open).count() as u64,
            documents: status.docs as u64,
            blobs_missing: status.blobs_missing as u64,
            sessions,
            home_relay: self.transport.home_relay().map(|url| url.to_string()),
            totals: self.core.totals(),
            // Disk figures are filled in by `Node::stats`, off the driver.
            store_bytes: 0,
            blob_bytes: 0,
            blobs: crate::BlobStats::default(),
            quarantined_files: 0,
        }
    }
}

/// Fills [`NodeStats::blobs`]: counts from the core, sizes from the blob store (HS-BLOB-4).
pub(super) async fn blob_stats(
    mut stats: NodeStats,
    retention: humansync_sansio::BlobRetention,
    transport: &Transport,
    released: &blob_keeper::Released,
) -> NodeStats {
    let mut held_bytes = 0u64;
    let mut pending_bytes = 0u64;
    let pending: BTreeSet<_> = retention.pending.iter().copied().collect();
    for hash in &retention.held {
        let size = transport.blob_size(*hash).await.unwrap_or(0);
        held_bytes = held_bytes.saturating_add(size);
        if pending.contains(hash) {
            pending_bytes = pending_bytes.saturating_add(size);
        }
    }
    let order = std::sync::atomic::Ordering::Relaxed;
    stats.blobs = crate::BlobStats {
        held: retention.held.len() as u64,
        held_bytes,
        pending_deletion: retention.pending.len() as u64,
        pending_deletion_bytes: pending_bytes,
        pinned: retention.pinned.len() as u64,
        deleted: released.blobs.load(order),
        deleted_bytes: released.bytes.load(order),
        grace: Duration::from_millis(retention.grace_ms),
    };
    stats
}
