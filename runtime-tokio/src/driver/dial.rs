//! Keeps sessions open to every admitted peer: dials the ones we are not connected to, with
//! exponential backoff per peer; addresses come from pairing, GET /devices or the app, and mDNS
//! finds LAN peers by id alone.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use humansync_protocol::DeviceId;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::transport::Transport;

/// First retry delay after a failed dial.
const BACKOFF_START: Duration = Duration::from_millis(500);

/// The result of one dial attempt.
pub(crate) struct DialOutcome {
    peer: DeviceId,
    ok: bool,
}

#[derive(Default)]
struct PeerDial {
    addrs: Vec<SocketAddr>,
    in_flight: bool,
    connected: bool,
    failures: u32,
    next: Option<Instant>,
}

/// Dial bookkeeping for every known peer.
pub(crate) struct Dialer {
    peers: BTreeMap<DeviceId, PeerDial>,
    results: mpsc::UnboundedSender<DialOutcome>,
    max_backoff: Duration,
}

impl Dialer {
    pub(crate) fn new(results: mpsc::UnboundedSender<DialOutcome>, interval: Duration) -> Self {
        Dialer {
            peers: BTreeMap::new(),
            results,
            max_backoff: interval.max(BACKOFF_START),
        }
    }

    /// Records addresses for a peer and, when they are new, retries it at once (the same
    /// addresses reported again, as GET /devices does every interval, keep the backoff).
    pub(crate) fn set_addrs(&mut self, peer: DeviceId, addrs: Vec<SocketAddr>) {
        let entry = self.peers.entry(peer).or_default();
        if entry.addrs == addrs {
            return;
        }
        entry.addrs = addrs;
        entry.next = None;
        entry.failures = 0;
    }

    /// Forgets the backoff of `peer` (it was just seen, e.g. on the LAN) so the next tick dials it.
    pub(crate) fn retry_now(&mut self, peer: DeviceId) {
        if let Some(entry) = self.peers.get_mut(&peer) {
            entry.next = None;
        }
    }

    pub(crate) fn connected(&mut self, peer: DeviceId) {
        let entry = self.peers.entry(peer).or_default();
        entry.connected = true;
        entry.failures = 0;
    }

    pub(crate) fn disconnected(&mut self, peer: DeviceId) {
        let entry = self.peers.entry(peer).or_default();
        entry.connected = false;
        entry.next = None;
    }

    pub(crate) fn finished(&mut self, outcome: DialOutcome) {
        let entry = self.peers.entry(outcome.peer).or_default();
        entry.in_flight = false;
        if outcome.ok {
            entry.failures = 0;
            entry.next = None;
        } else {
            entry.failures = entry.failures.saturating_add(1);
            let backoff = BACKOFF_START
                .saturating_mul(1 << entry.failures.min(10))
                .min(self.max_backoff);
            entry.next = Some(Instant::now() + backoff);
        }
    }

    /// Starts a dial to every target that is not connected, not being dialled and not backing off.
    pub(crate) fn tick(&mut self, now: Instant, targets: &[DeviceId], transport: &Arc<Transport>) {
        for peer in targets {
            let entry = self.peers.entry(*peer).or_default();
            if entry.in_flight || entry.connected || entry.next.is_some_and(|t| t > now) {
                continue;
            }
            entry.in_flight = true;
            let (peer, addrs, transport, results) = (
                *peer,
                entry.addrs.clone(),
                transport.clone(),
                self.results.clone(),
            );
            tokio::spawn(async move {
                let ok = transport.dial(peer, addrs).await.is_ok();
                let _ = results.send(DialOutcome { peer, ok });
            });
        }
    }
}
