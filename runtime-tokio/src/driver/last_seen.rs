//! When a session with each peer was last open, kept across restarts in the store's last-seen
//! file ([`crate::store::DocStore::last_seen`]) for [`crate::Node::devices`].
//!
//! A peer's time is noted when a session with it opens and when it closes; the file is rewritten
//! (one small durable replace) when a session closes, the only moment that changes what a
//! restarted node would show, and not more often than the sessions close.

use std::collections::BTreeMap;

use humansync_protocol::DeviceId;

/// Most peers remembered; the longest unseen are forgotten first.
const MAX_PEERS: usize = 4096;

/// The last-seen times, unix ms.
#[derive(Debug, Default)]
pub(crate) struct LastSeen {
    at: BTreeMap<DeviceId, u64>,
}

impl LastSeen {
    /// The times read back at start.
    pub(crate) fn new(saved: Vec<(DeviceId, u64)>) -> Self {
        let mut seen = LastSeen::default();
        for (peer, ms) in saved {
            seen.note(peer, ms);
        }
        seen
    }

    /// `peer` was seen at `now_ms` (a later time never goes back: a clock stepped back keeps the
    /// latest time seen).
    pub(crate) fn note(&mut self, peer: DeviceId, now_ms: u64) {
        let at = self.at.entry(peer).or_insert(now_ms);
        *at = (*at).max(now_ms);
        if self.at.len() > MAX_PEERS
            && let Some(oldest) = self.at.iter().min_by_key(|(_, ms)| **ms).map(|(p, _)| *p)
        {
            self.at.remove(&oldest);
        }
    }

    /// Every peer's time.
    pub(crate) fn times(&self) -> &BTreeMap<DeviceId, u64> {
        &self.at
    }

    /// What the file holds.
    pub(crate) fn snapshot(&self) -> Vec<(DeviceId, u64)> {
        self.at.iter().map(|(p, ms)| (*p, *ms)).collect()
    }
}
