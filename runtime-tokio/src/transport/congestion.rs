//! Which congestion controller a QUIC path runs: chosen by the path's delay.
//!
//! Loss-based control (Cubic, QUIC's default) reads every lost packet as congestion. On a link
//! that loses packets at random (LTE, Wi-Fi at range) it holds the window far below the link's
//! rate: at 0.5 % loss and 60 ms a flow stays near 0.4 MB/s (the Mathis bound) on a 1.25 MB/s
//! link. Model-based control (BBRv3) paces at the bottleneck rate it measures and fills such a
//! link. Where the round trip is a fraction of a millisecond (loopback, a wired LAN) the delay
//! BBRv3 models is the hosts' own scheduling and timer granularity, and it runs at about half
//! of what Cubic reaches there (BENCHMARKS.md). So every path starts under Cubic and is driven
//! by BBRv3 while its smallest measured round trip shows real propagation delay.
//!
//! Local behaviour only: nothing on the wire depends on it (SPEC.md §2.1 leaves congestion
//! control to the implementation).

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iroh::endpoint::{Controller, ControllerFactory, ControllerMetrics, QuicTransportConfig, RttEstimator};
use noq_proto::congestion::{Bbr3Config, CubicConfig};

/// A path whose smallest round trip is at least this is driven by BBRv3; a faster one by Cubic.
/// Four times tokio's 1 ms timer granularity, which BBRv3's pacing runs on; loopback and wired
/// LANs measure well under it, the home broadband of issue 22 §3 (20 ms) well over.
pub const WIDE_AREA_RTT: Duration = Duration::from_millis(4);

/// iroh's QUIC transport defaults with [`DelayChosenConfig`] as every path's controller: what
/// every endpoint of this crate binds with.
pub fn quic_transport_config() -> QuicTransportConfig {
    QuicTransportConfig::builder()
        .congestion_controller_factory(Arc::new(DelayChosenConfig::default()))
        .build()
}

/// Builds a [`DelayChosenController`] for every new path.
#[derive(Debug, Default)]
pub struct DelayChosenConfig {
    cubic: Arc<CubicConfig>,
    bbr: Arc<Bbr3Config>,
}

impl ControllerFactory for DelayChosenConfig {
    fn build(self: Arc<Self>, now: Instant, current_mtu: u16) -> Box<dyn Controller> {
        Box::new(DelayChosenController {
            cubic: self.cubic.clone().build(now, current_mtu),
            bbr: Some(self.bbr.clone().build(now, current_mtu)),
            wide_area: false,
        })
    }
}

/// Cubic and BBRv3 both follow every event of the path; the window and pacing of the one the
/// path's delay chooses ([`WIDE_AREA_RTT`]) are used. Both stay current, so the hand-over after
/// the first round trip starts from this path's own estimates, not from an initial window.
///
/// A path's smallest round trip never grows once measured (before the first sample it is
/// QUIC's initial 333 ms), so a path found faster than [`WIDE_AREA_RTT`] keeps Cubic for good
/// and BBRv3 is dropped: on such paths packets are many and its per-packet accounting would
/// only cost CPU.
#[derive(Debug)]
pub struct DelayChosenController {
    cubic: Box<dyn Controller>,
    /// `None` once the path is known to be faster than [`WIDE_AREA_RTT`].
    bbr: Option<Box<dyn Controller>>,
    /// The path's smallest round trip so far is at least [`WIDE_AREA_RTT`].
    wide_area: bool,
}

impl DelayChosenController {
    /// The controller in charge.
    fn chosen(&self) -> &dyn Controller {
        match &self.bbr {
            Some(bbr) if self.wide_area => &**bbr,
            _ => &*self.cubic,
        }
    }

    /// Tells every controller still following the path of an event.
    fn each(&mut self, mut event: impl FnMut(&mut dyn Controller)) {
        event(&mut *self.cubic);
        if let Some(bbr) = &mut self.bbr {
            event(&mut **bbr);
        }
    }
}

impl Controller for DelayChosenController {
    fn on_sent(&mut self, now: Instant, bytes: u64, largest_pn: u64) {
        self.each(|c| c.on_sent(now, bytes, largest_pn));
    }

    fn on_packet_sent(&mut self, now: Instant, bytes: u16, pn: u64) {
        self.each(|c| c.on_packet_sent(now, bytes, pn));
    }

    fn on_cwnd_limited(&mut self) {
        self.each(|c| c.on_cwnd_limited());
    }

    fn on_ack(
        &mut self,
        now: Instant,
        sent: Instant,
        bytes: u64,
        pn: u64,
        app_limited: bool,
        rtt: &RttEstimator,
    ) {
        self.wide_area = rtt.min() >= WIDE_AREA_RTT;
        if !self.wide_area {
            self.bbr = None;
        }
        self.each(|c| c.on_ack(now, sent, bytes, pn, app_limited, rtt));
    }

    fn on_end_acks(&mut self, now: Instant, in_flight: u64, app_limited: bool, largest_acked: Option<u64>) {
        self.each(|c| c.on_end_acks(now, in_flight, app_limited, largest_acked));
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent: Instant,
        is_persistent_congestion: bool,
        is_ecn: bool,
        lost_bytes: u64,
        largest_lost_pn: u64,
    ) {
        self.each(|c| {
            c.on_congestion_event(
                now,
                sent,
                is_persistent_congestion,
                is_ecn,
                lost_bytes,
                largest_lost_pn,
            )
        });
    }

    fn on_packet_lost(&mut self, lost_bytes: u16, pn: u64, now: Instant) {
        self.each(|c| c.on_packet_lost(lost_bytes, pn, now));
    }

    fn on_spurious_congestion_event(&mut self) {
        self.each(|c| c.on_spurious_congestion_event());
    }

    fn on_mtu_update(&mut self, new_mtu: u16) {
        self.each(|c| c.on_mtu_update(new_mtu));
    }

    fn on_ack_frequency_update(&mut self, ack_eliciting_threshold: u64, requested_max_ack_delay: Duration) {
        self.each(|c| c.on_ack_frequency_update(ack_eliciting_threshold, requested_max_ack_delay));
    }

    fn window(&self) -> u64 {
        self.chosen().window()
    }

    fn metrics(&self) -> ControllerMetrics {
        self.chosen().metrics()
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(DelayChosenController {
            cubic: self.cubic.clone_box(),
            bbr: self.bbr.as_ref().map(|bbr| bbr.clone_box()),
            wide_area: self.wide_area,
        })
    }

    fn initial_window(&self) -> u64 {
        self.chosen().initial_window()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}
