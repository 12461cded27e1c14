//! Connection policy: which peers this node dials, when, and with what backoff
//! (HS-TRANSPORT-4, HS-GATE-5, HS-GATE-6, HS-GATE-7). Decided here once; the runtime and the
//! simulation only perform the [`crate::Output::Dial`] requests and report how they went.
//!
//! Per peer the dialer is in one of three states (samod-core's hub dialer has the same shape):
//! a session exists (nothing to do), a dial is in flight (waiting for the runtime's answer, up to
//! a deadline), or it waits to retry until `due`. Targets are exactly the peers the gate admits
//! ([`GateView::admitted`]): none at all once the node is revoked in its own view (HS-GATE-5).
//!
//! Who dials whom (HS-TRANSPORT-4): of a pair, the *preferred dialer* is the device that is not
//! the anchor, else the lower id. The other side dials only after the pair has had no session for
//! [`DialConfig::fallback_ms`], so that both do not dial at once (which costs one session closed
//! as DUPLICATE after part of a resume), while a one-way reachable pair still connects.

use std::collections::BTreeMap;

use humansync_protocol::DeviceId;

use crate::gate::GateView;
use crate::{Instant, Output};

/// Timing of the connection policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialConfig {
    /// Delay before the first retry after a failed dial or a lost session, ms (jittered to 50–100 %).
    pub backoff_start_ms: u64,
    /// Longest delay between dials of an ordinary peer, ms.
    pub backoff_max_ms: u64,
    /// Longest delay between dials of the anchor, ms: a server that restarts is the most common
    /// outage, so devices find it again within about this long.
    pub anchor_backoff_max_ms: u64,
    /// How long a pair has had no session before its non-preferred side dials too, ms.
    pub fallback_ms: u64,
    /// A dial the runtime has not answered after this long counts as failed, ms.
    pub answer_timeout_ms: u64,
}

impl Default for DialConfig {
    fn default() -> Self {
        DialConfig {
            backoff_start_ms: 500,
            backoff_max_ms: 30_000,
            anchor_backoff_max_ms: 2_000,
            fallback_ms: 10_000,
            answer_timeout_ms: 30_000,
        }
    }
}

/// Counters of the dialer; tests assert on these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DialStats {
    /// Dial requests emitted.
    pub dials: u64,
    /// Dials reported failed, or not answered in time.
    pub failures: u64,
}

/// What the dialer knows about one admitted peer.
#[derive(Debug, Clone, Default)]
struct PeerDial {
    /// Consecutive failed dials or sessions that ended before their handshake completed.
    attempts: u32,
    /// No dial before this instant.
    due: Instant,
    /// A dial is in flight; it counts as failed at this deadline.
    in_flight: Option<Instant>,
    /// Since when the pair has had no session (`None` while it has one).
    missing_since: Option<Instant>,
    /// When the next dial may start, as of the last plan (for `next_wake`).
    next: Option<Instant>,
    /// Dial even though a session exists: it has been silent and the peer was just found again.
    replace: bool,
}

/// The connection policy's state; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    config: DialConfig,
    peers: BTreeMap<DeviceId, PeerDial>,
    stats: DialStats,
}

impl Dialer {
    pub(crate) fn new(config: DialConfig) -> Self {
        Dialer {
            config,
            peers: BTreeMap::new(),
            stats: DialStats::default(),
        }
    }

    pub(crate) fn stats(&self) -> DialStats {
        self.stats
    }

    /// The runtime could not connect to `peer` (HS-GATE-7 included: a refusal by its gate).
    pub(crate) fn dial_failed(&mut self, now: Instant, gate: &GateView, peer: DeviceId) {
        let config = self.config;
        if let Some(entry) = self.peers.get_mut(&peer) {
            entry.in_flight = None;
            self.stats.failures += 1;
            fail(entry, now, &config, gate, peer);
        }
    }

    /// A connection with `peer` reached the core; a dialled one answers the dial in flight.
    pub(crate) fn session_started(&mut self, peer: DeviceId, dialled: bool) {
        if let Some(entry) = self.peers.get_mut(&peer)
            && dialled
        {
            entry.in_flight = None;
        }
    }

    /// A session with `peer` completed its handshake and was kept: the backoff starts over.
    pub(crate) fn session_opened(&mut self, peer: DeviceId) {
        if let Some(entry) = self.peers.get_mut(&peer) {
            entry.attempts = 0;
        }
    }

    /// A session with `peer` ended; `opened` if its handshake had completed. A session refused
    /// or cut before that counts as a failed dial (HS-GATE-7: a peer that closes us with
    /// REVOKED or NOT_REGISTERED is dialled again only after a growing delay).
    pub(crate) fn session_ended(&mut self, now: Instant, gate: &GateView, peer: DeviceId, opened: bool) {
        let config = self.config;
        if let Some(entry) = self.peers.get_mut(&peer) {
            if opened {
                entry.attempts = 0;
            }
            fail(entry, now, &config, gate, peer);
        }
    }

    /// `peer` was just seen at a new address (pairing, GET /devices, mDNS): dial it at once
    /// rather than after its backoff.
    /// With `stale_session`, the session held with it has been silent: it is replaced by a new
    /// one (the tie-break keeps the newer, HS-TRANSPORT-4).
    pub(crate) fn peer_seen(&mut self, now: Instant, peer: DeviceId, stale_session: bool) {
        if let Some(entry) = self.peers.get_mut(&peer) {
            entry.attempts = 0;
            entry.due = now;
            entry.replace |= stale_session;
        }
    }

    /// Emits a [`Output::Dial`] for every admitted peer that has no session, no dial in flight,
    /// and whose retry time has come. `has_session` says whether a session (in any phase) exists.
    pub(crate) fn plan(
        &mut self,
        now: Instant,
        gate: &GateView,
        has_session: impl Fn(&DeviceId) -> bool,
        out: &mut std::collections::VecDeque<Output>,
    ) {
        let targets: Vec<DeviceId> = gate.admitted().collect();
        // Peers no longer admitted are forgotten (HS-GATE-5, HS-GATE-6): never dialled again.
        self.peers.retain(|p, _| targets.contains(p));
        let config = self.config;
        for peer in targets {
            let entry = self.peers.entry(peer).or_default();
            entry.next = None;
            if has_session(&peer) && !entry.replace {
                entry.missing_since = None;
                continue;
            }
            let missing_since = *entry.missing_since.get_or_insert(now);
            if let Some(deadline) = entry.in_flight {
                if deadline > now {
                    entry.next = Some(deadline);
                    continue;
                }
                entry.in_flight = None;
                self.stats.failures += 1;
                fail(entry, now, &config, gate, peer);
            }
            let mut earliest = entry.due;
            if !preferred_dialer(gate, peer) && !entry.replace {
                earliest = earliest.max(missing_since.plus_ms(config.fallback_ms));
            }
            if earliest > now {
                entry.next = Some(earliest);
                continue;
            }
            entry.replace = false;
            entry.in_flight = Some(now.plus_ms(config.answer_timeout_ms.max(1)));
            entry.next = entry.in_flight;
            self.stats.dials += 1;
            out.push_back(Output::Dial { peer });
        }
    }

    /// The earliest instant the plan must run again (a retry or a dial's answer deadline).
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.peers.values().filter_map(|p| p.next).min()
    }
}

/// Records a failed attempt: the next dial waits `start × 2^(attempts-1)`, capped, jittered.
fn fail(entry: &mut PeerDial, now: Instant, config: &DialConfig, gate: &GateView, peer: DeviceId) {
    entry.attempts = entry.attempts.saturating_add(1);
    let cap = if gate.anchor() == Some(peer) {
        config.anchor_backoff_max_ms
    } else {
        config.backoff_max_ms
    };
    let exp = entry.attempts.saturating_sub(1).min(20);
    let delay = config.backoff_start_ms.saturating_mul(1 << exp).min(cap);
    entry.due = now.plus_ms(jittered(delay, gate.me(), peer, entry.attempts));
}

/// True if this node is the pair's preferred dialer (HS-TRANSPORT-4): a device dials the
/// anchor; between two devices the lower id dials.
pub(crate) fn preferred_dialer(gate: &GateView, peer: DeviceId) -> bool {
    let me = gate.me();
    match gate.anchor() {
        Some(anchor) if anchor == peer => true,
        Some(anchor) if anchor == me => false,
        _ => me < peer,
    }
}

/// 50–100 % of `delay`, drawn deterministically from the pair and the attempt (the core has no
/// randomness), so that peers that failed together do not all retry at the same instant.
fn jittered(delay: u64, me: DeviceId, peer: DeviceId, attempt: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in me
        .as_bytes()
        .iter()
        .chain(peer.as_bytes().iter())
        .chain(attempt.to_le_bytes().iter())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let half = delay / 2;
    half + if half == 0 { 0 } else { h % (half + 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_within_half() {
        let me = DeviceId::from(&ed25519_dalek::SigningKey::from_bytes(&[1; 32]));
        let peer = DeviceId::from(&ed25519_dalek::SigningKey::from_bytes(&[2; 32]));
        for attempt in 0..50 {
            let j = jittered(1000, me, peer, attempt);
            assert!((500..=1000).contains(&j), "{j}");
        }
        assert_eq!(jittered(0, me, peer, 3), 0);
    }
}
