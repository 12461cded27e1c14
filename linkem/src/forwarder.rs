//! The userspace half of a link: reads the packets one TUN device emits, drops some (loss, link
//! down), holds the rest for the one-way delay plus jitter, and writes them into the TUN device
//! on the other side. One [`LinkState`] per link, changed at run time; one pump per direction.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tun_rs::AsyncDevice;

use crate::LinkProfile;

/// Packets held in one direction's delay line at most; more are dropped (counted as overflow).
/// 20,000 full packets is 240 ms of 1 Gbit/s, far beyond any profile's bandwidth-delay product.
pub const DELAY_LINE_PACKETS: usize = 20_000;

/// The largest packet a TUN device hands over (MTU 1500 plus slack).
const PACKET_BUF: usize = 2048;

/// Which way packets flow on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the node to the hub.
    Up,
    /// From the hub to the node.
    Down,
}

/// Counters of one direction of a link.
#[derive(Debug, Default)]
pub struct DirectionCounters {
    received: AtomicU64,
    forwarded: AtomicU64,
    lost: AtomicU64,
    dropped_down: AtomicU64,
    overflow: AtomicU64,
}

/// A snapshot of [`DirectionCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DirectionStats {
    /// Packets read from the sending side.
    pub received: u64,
    /// Packets written to the receiving side.
    pub forwarded: u64,
    /// Packets dropped by the loss probability.
    pub lost: u64,
    /// Packets dropped because the link was down.
    pub dropped_down: u64,
    /// Packets dropped because the delay line was full.
    pub overflow: u64,
}

impl DirectionCounters {
    fn snapshot(&self) -> DirectionStats {
        DirectionStats {
            received: self.received.load(Ordering::Relaxed),
            forwarded: self.forwarded.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            dropped_down: self.dropped_down.load(Ordering::Relaxed),
            overflow: self.overflow.load(Ordering::Relaxed),
        }
    }
}

/// The run-time settings and counters of one link, shared by its two pumps and the controller.
#[derive(Debug)]
pub struct LinkState {
    profile: Mutex<LinkProfile>,
    up: AtomicBool,
    up_counters: DirectionCounters,
    down_counters: DirectionCounters,
}

impl LinkState {
    /// A link that is up with `profile`.
    pub fn new(profile: LinkProfile) -> Self {
        LinkState {
            profile: Mutex::new(profile),
            up: AtomicBool::new(true),
            up_counters: DirectionCounters::default(),
            down_counters: DirectionCounters::default(),
        }
    }

    /// The current profile.
    pub fn profile(&self) -> LinkProfile {
        // A poisoned lock still holds a valid profile (it is Copy and written whole).
        *self.profile.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the userspace half of the profile (delay, jitter, loss); the rate is the kernel's.
    pub(crate) fn set_profile(&self, profile: LinkProfile) {
        *self.profile.lock().unwrap_or_else(|p| p.into_inner()) = profile;
    }

    /// Whether packets cross the link.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Takes the link down (every packet is silently dropped, as past a cut cable) or up.
    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }

    /// Counters of one direction.
    pub fn stats(&self, direction: Direction) -> DirectionStats {
        self.counters(direction).snapshot()
    }

    fn counters(&self, direction: Direction) -> &DirectionCounters {
        match direction {
            Direction::Up => &self.up_counters,
            Direction::Down => &self.down_counters,
        }
    }
}

/// A uniform draw in [0, 1) from 53 random bits.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Moves packets from `src` to `dst` in one direction until either device fails (the lab is
/// being torn down). Spawns the delay line's writer.
pub(crate) async fn pump(
    src: Arc<AsyncDevice>,
    dst: Arc<AsyncDevice>,
    state: Arc<LinkState>,
    direction: Direction,
    seed: u64,
) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>(DELAY_LINE_PACKETS);
    tokio::spawn(release(rx, dst, state.clone(), direction));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut last_release = Instant::now();
    let mut buf = vec![0u8; PACKET_BUF];
    loop {
        let n = match src.recv(&mut buf).await {
            Ok(n) => n,
            Err(_) => return,
        };
        let counters = state.counters(direction);
        counters.received.fetch_add(1, Ordering::Relaxed);
        if !state.is_up() {
            counters.dropped_down.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let profile = state.profile();
        if profile.loss > 0.0 && unit(&mut rng) < profile.loss {
            counters.lost.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let jitter_us = if profile.jitter_ms > 0 {
            rng.next_u64() % (u64::from(profile.jitter_ms) * 1000 + 1)
        } else {
            0
        };
        let now = Instant::now();
        // Never reorder: a packet leaves no earlier than the one before it.
        let at = (now + Duration::from_micros(profile.one_way_us() + jitter_us)).max(last_release);
        last_release = at;
        if tx.try_send((at, buf[..n].to_vec())).is_err() {
            counters.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn release(
    mut rx: mpsc::Receiver<(Instant, Vec<u8>)>,
    dst: Arc<AsyncDevice>,
    state: Arc<LinkState>,
    direction: Direction,
) {
    while let Some((at, packet)) = rx.recv().await {
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
        if dst.send(&packet).await.is_err() {
            return;
        }
        state
            .counters(direction)
            .forwarded
            .fetch_add(1, Ordering::Relaxed);
    }
}
