//! Documents whose bytes were refused or failed to load (HS-SYNC-10, HS-SYNC-13): remembered in
//! bounded memory, asked for again with backoff from other peers only, reported in
//! `sync_status` and events.
//!
//! ```text
//! bytes refused at receipt (HS-SYNC-12) ──► Rejected: session closed, nothing stored, reported
//! stored bytes fail to load             ──► LoadFailed: dropped, digest remembered,
//!                                           DocWant to other peers after 1 s, 2 s, 4 s … (at most
//!                                           QUARANTINE_MAX_RETRIES), a DocWhole with the same
//!                                           heads is dropped unparsed
//! the document loads                    ──► forgotten
//! ```
//!
//! While a document whose stored copy failed to load is not recovered, the app's reads and
//! changes of it are refused with `CoreError::Quarantined` (a request already waiting on the
//! failed load too): an empty stand-in would show the app nothing and, once changed, fork the
//! document's history from the copy on its way. A delete still discards it.

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::limits::{
    MAX_QUARANTINE_PEERS, MAX_QUARANTINED, QUARANTINE_MAX_RETRIES, QUARANTINE_RETRY_BASE_MS,
    QUARANTINE_RETRY_MAX_MS,
};
use humansync_protocol::{DeviceId, DocDigest, DocId};

use super::Core;
use crate::{ConnId, Event, Instant};

/// Why a document is quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineKind {
    /// A peer's bytes for it were refused before parsing or failed to apply; nothing was stored.
    Rejected,
    /// Its stored bytes failed to load; it was dropped and is asked for again from other peers.
    LoadFailed,
}

/// One quarantined document as `sync_status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The document.
    pub doc: DocId,
    /// What happened last.
    pub kind: QuarantineKind,
    /// Peers whose bytes failed (at most `MAX_QUARANTINE_PEERS`); empty if unknown.
    pub peers: BTreeSet<DeviceId>,
    /// Digests of bytes that failed to load: a DocWhole with these heads is dropped unparsed.
    pub digests: BTreeSet<DocDigest>,
    /// The last failure, for logs.
    pub reason: String,
    /// Failures so far.
    pub failures: u32,
    /// When it was last quarantined.
    pub at: Instant,
    /// When it is asked for again (LoadFailed only, while retries remain).
    pub retry_at: Option<Instant>,
}

/// The bounded set of quarantined documents.
#[derive(Debug, Default)]
pub(crate) struct Quarantine {
    entries: BTreeMap<DocId, Quarantined>,
}

impl Quarantine {
    /// Records a failure of `doc` (bytes from `peer`, with `digest` if known).
    pub(crate) fn record(
        &mut self,
        now: Instant,
        doc: &DocId,
        kind: QuarantineKind,
        peer: Option<DeviceId>,
        digest: Option<DocDigest>,
        reason: &str,
    ) -> &Quarantined {
        if !self.entries.contains_key(doc) && self.entries.len() >= MAX_QUARANTINED {
            // Forget the entry quarantined longest ago.
            if let Some(oldest) = self.entries.values().min_by_key(|q| q.at).map(|q| q.doc.clone()) {
                self.entries.remove(&oldest);
            }
        }
        let entry = self.entries.entry(doc.clone()).or_insert_with(|| Quarantined {
            doc: doc.clone(),
            kind,
            peers: BTreeSet::new(),
            digests: BTreeSet::new(),
            reason: String::new(),
            failures: 0,
            at: now,
            retry_at: None,
        });
        entry.kind = kind;
        entry.failures = entry.failures.saturating_add(1);
        entry.at = now;
        entry.reason = reason.to_owned();
        if let Some(peer) = peer
            && entry.peers.len() < MAX_QUARANTINE_PEERS
        {
            entry.peers.insert(peer);
        }
        if let Some(digest) = digest
            && entry.digests.len() < MAX_QUARANTINE_PEERS
        {
            entry.digests.insert(digest);
        }
        entry.retry_at = (kind == QuarantineKind::LoadFailed && entry.failures <= QUARANTINE_MAX_RETRIES)
            .then(|| now.plus_ms(backoff_ms(entry.failures)));
        entry
    }

    /// Whether bytes for `doc` with `digest` from `peer` already failed to load: drop them
    /// unparsed. Only the peers that supplied them are refused, so a peer that claims another's
    /// heads cannot keep the good version out.
    pub(crate) fn refuses(&self, doc: &DocId, digest: &DocDigest, peer: &DeviceId) -> bool {
        self.entries
            .get(doc)
            .is_some_and(|q| q.digests.contains(digest) && q.peers.contains(peer))
    }

    /// Whether `doc`'s stored copy failed to load and no copy has loaded since: it is being
    /// recovered from peers, and the app may not read or change a stand-in meanwhile.
    pub(crate) fn recovering(&self, doc: &DocId) -> bool {
        self.entries
            .get(doc)
            .is_some_and(|q| q.kind == QuarantineKind::LoadFailed || !q.digests.is_empty())
    }

    /// The document loaded (or was deleted): forget it.
    pub(crate) fn clear(&mut self, doc: &DocId) {
        self.entries.remove(doc);
    }

    /// Documents due to be asked for again now, with the peers not to ask; their timers stop.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<(DocId, BTreeSet<DeviceId>)> {
        self.entries
            .values_mut()
            .filter(|q| q.retry_at.is_some_and(|at| at <= now))
            .map(|q| {
                q.retry_at = None;
                (q.doc.clone(), q.peers.clone())
            })
            .collect()
    }

    /// The earliest retry.
    pub(crate) fn next_retry(&self) -> Option<Instant> {
        self.entries.values().filter_map(|q| q.retry_at).min()
    }

    /// Every entry, by document.
    pub(crate) fn list(&self) -> Vec<Quarantined> {
        self.entries.values().cloned().collect()
    }
}

impl Core {
    /// A peer's bytes for `doc` were refused or failed to apply: report, remember, close
    /// (HS-SYNC-10, HS-SYNC-12). Nothing of them was stored or forwarded.
    pub(crate) fn reject_bytes(&mut self, now: Instant, conn: ConnId, doc: &DocId, reason: String) {
        let peer = self.sessions.get(&conn).map(|s| s.peer);
        // The heads a peer claims are not remembered: they could be another version's.
        self.quarantine
            .record(now, doc, QuarantineKind::Rejected, peer, None, &reason);
        self.emit(Event::DocRejected {
            doc: doc.clone(),
            peer,
            reason: reason.clone(),
        });
        let fault = crate::PeerFault::DocRefused {
            doc: doc.clone(),
            reason,
        };
        self.close_session(now, conn, fault);
    }

    /// Asks other peers than the ones that supplied failing bytes for quarantined documents
    /// whose retry is due (HS-SYNC-13).
    pub(crate) fn quarantine_tick(&mut self, now: Instant) {
        for (doc, blamed) in self.quarantine.take_due(now) {
            if self.metas.contains_key(&doc) {
                continue;
            }
            let conns: Vec<ConnId> = self
                .sessions
                .values()
                .filter(|s| s.is_open() && !blamed.contains(&s.peer))
                .map(|s| s.conn)
                .collect();
            for conn in conns {
                self.send(
                    conn,
                    &humansync_protocol::Message::DocWant {
                        docs: vec![doc.clone()],
                    },
                );
                if let Some(s) = self.sessions.get_mut(&conn) {
                    s.wanted.insert(doc.clone());
                }
            }
        }
    }
}

/// 1 s, 2 s, 4 s … up to `QUARANTINE_RETRY_MAX_MS`.
fn backoff_ms(failures: u32) -> u64 {
    let shift = failures.saturating_sub(1).min(32);
    QUARANTINE_RETRY_BASE_MS
        .saturating_mul(1u64 << shift)
        .min(QUARANTINE_RETRY_MAX_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(i: usize) -> DocId {
        DocId::new(format!("notes/{i}")).expect("id")
    }

    #[test]
    fn bounded_and_backs_off() {
        // HS-SYNC-13
        let mut q = Quarantine::default();
        for i in 0..MAX_QUARANTINED + 10 {
            q.record(
                Instant(i as u64),
                &doc(i),
                QuarantineKind::Rejected,
                None,
                None,
                "x",
            );
        }
        assert_eq!(q.list().len(), MAX_QUARANTINED);
        assert!(q.list().iter().all(|e| e.doc != doc(0)));
        let d = doc(5000);
        let mut retries = Vec::new();
        for _ in 0..QUARANTINE_MAX_RETRIES + 2 {
            let e = q.record(Instant(0), &d, QuarantineKind::LoadFailed, None, None, "x");
            retries.push(e.retry_at);
        }
        assert_eq!(retries[0], Some(Instant(1_000)));
        assert_eq!(retries[1], Some(Instant(2_000)));
        assert_eq!(retries[2], Some(Instant(4_000)));
        assert_eq!(retries.last(), Some(&None), "no retry once retries ran out");
    }
}
