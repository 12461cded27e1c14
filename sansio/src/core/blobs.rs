//! The blob want-list: which referenced blobs are missing, who holds them, what to fetch (HS-BLOB-2).

use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::limits::{BLOB_RETRY_BASE_MS, BLOB_RETRY_MAX_MS, MAX_BLOB_WANT};
use humansync_protocol::{BlobHash, DeviceId, Message};

use super::Core;
use super::cache::PendingIo;
use crate::{ConnId, Event, Instant, IoAction, IoResult};

/// Blob bookkeeping for one node.
#[derive(Debug, Default)]
pub(crate) struct BlobWants {
    /// Blobs held complete in the store (and not being released).
    pub(crate) local: BTreeSet<BlobHash>,
    /// Reference counts: how many live documents' index rows reference each blob (HS-BLOB-4).
    refs: BTreeMap<BlobHash, u32>,
    /// Blobs whose release the runtime has not confirmed yet: not fetched meanwhile, so a
    /// fetch's keep can never be undone by an earlier release (HS-BLOB-4).
    pub(crate) releasing: BTreeSet<BlobHash>,
    announced: BTreeSet<BlobHash>,
    fetching: BTreeMap<BlobHash, DeviceId>,
    retry: BTreeMap<BlobHash, Retry>,
}

/// A retry with no timer: waiting for a peer to say it holds the blob.
const PARKED: Instant = Instant(u64::MAX);

#[derive(Debug, Default)]
struct Retry {
    failures: u32,
    at: Instant,
    tried: BTreeSet<DeviceId>,
}

impl BlobWants {
    pub(crate) fn new(local: Vec<BlobHash>) -> Self {
        BlobWants {
            local: local.into_iter().collect(),
            ..Default::default()
        }
    }

    /// Counts the references of a document's index row that appears (`add`) or goes away.
    /// Returns whether the count of some held blob went from or to zero (retention must look
    /// again).
    pub(crate) fn count_refs(&mut self, refs: &[BlobHash], add: bool) -> bool {
        let mut flipped = false;
        for hash in refs {
            if add {
                let n = self.refs.entry(*hash).or_insert(0);
                flipped |= *n == 0 && self.local.contains(hash);
                *n = n.saturating_add(1);
            } else if let Some(n) = self.refs.get_mut(hash) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.refs.remove(hash);
                    flipped |= self.local.contains(hash);
                }
            }
        }
        flipped
    }

    /// Whether a live document references `hash`.
    pub(crate) fn is_referenced(&self, hash: &BlobHash) -> bool {
        self.refs.contains_key(hash)
    }

    /// Every referenced blob.
    pub(crate) fn referenced(&self) -> impl Iterator<Item = &BlobHash> {
        self.refs.keys()
    }

    pub(crate) fn missing(&self) -> Vec<BlobHash> {
        self.refs
            .keys()
            .filter(|h| !self.local.contains(h))
            .copied()
            .collect()
    }

    /// Forgets that a BlobWant for `hash` went out, so the next announcement sends it again.
    pub(crate) fn forget_announced(&mut self, hash: &BlobHash) {
        self.announced.remove(hash);
    }

    pub(crate) fn next_retry(&self) -> Option<Instant> {
        self.retry.values().map(|r| r.at).filter(|at| *at != PARKED).min()
    }

    pub(crate) fn peer_gone(&mut self, peer: &DeviceId) {
        // A fetch from a vanished peer will fail in the runtime; nothing to do until it reports.
        let _ = peer;
    }

    fn wanted(&self, hash: &BlobHash) -> bool {
        self.refs.contains_key(hash)
            && !self.local.contains(hash)
            && !self.fetching.contains_key(hash)
            && !self.releasing.contains(hash)
    }
}

impl Core {
    /// A blob is now complete in the local store (stored by the app or fetched): stop wanting it and
    /// tell every session we hold it (HS-BLOB-2).
    pub fn handle_blob_added(&mut self, now: Instant, hash: BlobHash) {
        let _ = now;
        let was_missing = self.blobs.local.insert(hash);
        if was_missing {
            // HS-BLOB-4: a new held blob starts unreferenced unless a document references it.
            self.retention.touch();
        }
        self.blobs.retry.remove(&hash);
        self.blobs.fetching.remove(&hash);
        if was_missing {
            let conns: Vec<ConnId> = self.open_conns().collect();
            for conn in conns {
                self.send(conn, &Message::BlobHave { hashes: vec![hash] });
            }
        }
    }

    /// Sends BlobWant for newly missing blobs to every open session.
    pub(crate) fn announce_wants(&mut self) {
        let new: Vec<BlobHash> = self
            .blobs
            .missing()
            .into_iter()
            .filter(|h| !self.blobs.announced.contains(h))
            .collect();
        if new.is_empty() {
            return;
        }
        self.blobs.announced.extend(new.iter().copied());
        let conns: Vec<ConnId> = self.open_conns().collect();
        for conn in conns {
            for chunk in new.chunks(MAX_BLOB_WANT) {
                self.send(
                    conn,
                    &Message::BlobWant {
                        hashes: chunk.to_vec(),
                    },
                );
            }
        }
    }

    /// Sends every missing blob to a newly opened session.
    pub(crate) fn announce_wants_to(&mut self, conn: ConnId) {
        let missing = self.blobs.missing();
        self.blobs.announced.extend(missing.iter().copied());
        for chunk in missing.chunks(MAX_BLOB_WANT) {
            self.send(
                conn,
                &Message::BlobWant {
                    hashes: chunk.to_vec(),
                },
            );
        }
    }

    /// HS-BLOB-2: every BlobWant is answered with a BlobHave of the asked hashes held complete,
    /// an empty one included (the peer then knows to look elsewhere).
    pub(crate) fn answer_blob_want(&mut self, conn: ConnId, hashes: &[BlobHash]) {
        let have: Vec<BlobHash> = hashes
            .iter()
            .filter(|h| self.blobs.local.contains(h))
            .copied()
            .collect();
        self.send(conn, &Message::BlobHave { hashes: have });
    }

    pub(crate) fn peer_has_blobs(&mut self, now: Instant, conn: ConnId, hashes: &[BlobHash]) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        // Only claims about blobs this node wants are remembered: the set stays within the
        // referenced blobs (issue 16 §3). A blob referenced later is asked for again (BlobWant).
        let refs = &self.blobs.refs;
        let local = &self.blobs.local;
        session.peer_blobs.extend(
            hashes
                .iter()
                .filter(|h| refs.contains_key(*h) && !local.contains(*h))
                .copied(),
        );
        let peer = session.peer;
        for hash in hashes {
            // A parked retry waits for exactly this BlobHave: only a running backoff holds it.
            let backing_off = self
                .blobs
                .retry
                .get(hash)
                .is_some_and(|r| r.at != PARKED && r.at > now);
            if self.blobs.wanted(hash) && !backing_off {
                self.start_fetch(*hash, peer);
            }
        }
    }

    fn start_fetch(&mut self, hash: BlobHash, peer: DeviceId) {
        self.blobs.fetching.insert(hash, peer);
        self.next_task(
            IoAction::FetchBlob { hash, from: peer },
            PendingIo::Fetch { hash, peer },
        );
    }

    pub(crate) fn fetch_done(&mut self, now: Instant, hash: BlobHash, peer: DeviceId, result: IoResult) {
        self.blobs.fetching.remove(&hash);
        match result {
            IoResult::Done => {
                self.emit(Event::BlobArrived(hash));
                self.handle_blob_added(now, hash);
            }
            _ => {
                let retry = self.blobs.retry.entry(hash).or_default();
                retry.failures = retry.failures.saturating_add(1);
                retry.tried.insert(peer);
                let delay = BLOB_RETRY_BASE_MS
                    .saturating_mul(1u64 << retry.failures.min(20).saturating_sub(1))
                    .min(BLOB_RETRY_MAX_MS);
                retry.at = now.plus_ms(delay);
            }
        }
    }

    /// Retries failed fetches whose backoff expired, preferring peers not tried yet.
    pub(crate) fn blobs_tick(&mut self, now: Instant) {
        let due: Vec<BlobHash> = self
            .blobs
            .retry
            .iter()
            .filter(|(_, r)| r.at <= now)
            .map(|(h, _)| *h)
            .collect();
        for hash in due {
            if !self.blobs.wanted(&hash) {
                self.blobs.retry.remove(&hash);
                continue;
            }
            let holders: Vec<DeviceId> = self
                .sessions
                .values()
                .filter(|s| s.is_open() && s.peer_blobs.contains(&hash))
                .map(|s| s.peer)
                .collect();
            let Some(retry) = self.blobs.retry.get_mut(&hash) else {
                continue;
            };
            let pick = holders
                .iter()
                .find(|p| !retry.tried.contains(p))
                .or(holders.first())
                .copied();
            match pick {
                Some(peer) => {
                    if holders.iter().all(|p| retry.tried.contains(p)) {
                        retry.tried.clear();
                    }
                    retry.at = PARKED;
                    self.start_fetch(hash, peer);
                }
                // Nobody holds it now: wait for a BlobHave.
                None => retry.at = PARKED,
            }
        }
    }
}
