//! Measurements a test reads off a simulation: traffic per link and in total, bytes still in
//! flight, blobs missing, what a node's disk holds.

use automerge::ReadDoc;
use humansync_protocol::{BlobHash, DocId};

use super::Sim;

impl Sim {
    /// Bytes and frames sent each way on the live connection between `a` and `b`:
    /// `(bytes a→b, frames a→b, bytes b→a, frames b→a)`.
    pub fn link_stats(&self, a: usize, b: usize) -> Option<(u64, u64, u64, u64)> {
        let conn = *self.net.live_between(a, b).first()?;
        let sa = self.nodes[a].host.core.as_ref()?.session_stats(conn)?;
        let sb = self.nodes[b].host.core.as_ref()?.session_stats(conn)?;
        Some((sa.bytes_out, sa.frames_out, sb.bytes_out, sb.frames_out))
    }

    /// Sum of bytes and frames sent by every core so far.
    pub fn traffic(&self) -> (u64, u64) {
        let mut bytes = 0;
        let mut frames = 0;
        for node in &self.nodes {
            if let Some(core) = &node.host.core {
                for p in core.status().peers {
                    bytes += p.stats.bytes_out;
                    frames += p.stats.frames_out;
                }
            }
        }
        (bytes, frames)
    }

    /// Chunks of bytes `from` has sent to `to` on live connections that `to` has not processed yet.
    pub fn undelivered(&self, from: usize, to: usize) -> u64 {
        self.net.undelivered(from, to)
    }

    /// Blobs referenced by live documents on node `idx` that it does not hold (HS-BLOB-2).
    pub fn missing_blobs(&self, idx: usize) -> Vec<BlobHash> {
        self.nodes[idx]
            .host
            .core
            .as_ref()
            .map(|c| c.missing_blobs())
            .unwrap_or_default()
    }

    /// Edits of `doc` visible in node `idx`'s durable copy (keys of the root map).
    pub fn stored_keys(&self, idx: usize, doc: &DocId) -> Vec<String> {
        let Some(stored) = self.nodes[idx].host.store.docs.get(doc) else {
            return Vec::new();
        };
        let Ok(am) = crate::untrusted::load(&stored.bytes) else {
            return Vec::new();
        };
        am.keys(automerge::ROOT).collect()
    }
}
