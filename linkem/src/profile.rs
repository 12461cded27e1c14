//! Link profiles: what one link between a node and the lab's hub does to packets.
//!
//! A profile describes the node's access link as a whole: `rtt_ms` is the round-trip time this
//! link adds (half of it in each direction), `rate_kbit` the bandwidth in each direction, `loss`
//! the probability that a packet is dropped, in each direction. A path between two nodes crosses
//! both of their links: a device on `lte` talking to a server on `lan` sees the LTE figures; two
//! devices on `lte` see twice the delay.

use serde::{Deserialize, Serialize};

/// What a link does to the packets crossing it, in each direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinkProfile {
    /// Round-trip time the link adds, in milliseconds (half each way).
    pub rtt_ms: u32,
    /// Random extra one-way delay, uniform in `0..=jitter_ms`, in milliseconds. Packets are never
    /// reordered: a packet leaves no earlier than the one before it.
    pub jitter_ms: u32,
    /// Bandwidth in each direction in kbit/s (kernel `tbf`); `None` is unshaped.
    pub rate_kbit: Option<u64>,
    /// Probability of dropping a packet, in each direction (0.005 is 0.5 %).
    pub loss: f64,
    /// The bottleneck queue in milliseconds of the rate (the `tbf` limit); packets beyond it are dropped.
    pub queue_ms: u32,
}

/// The profiles issue 22 §3 names, plus an unshaped `lan`.
pub const PROFILES: &[(&str, LinkProfile)] = &[
    ("lan", LinkProfile::LAN),
    ("broadband", LinkProfile::BROADBAND),
    ("lte", LinkProfile::LTE),
    ("poor", LinkProfile::POOR),
];

impl LinkProfile {
    /// No delay, no rate limit, no loss.
    pub const LAN: LinkProfile = LinkProfile {
        rtt_ms: 0,
        jitter_ms: 0,
        rate_kbit: None,
        loss: 0.0,
        queue_ms: 100,
    };
    /// Home broadband: 20 ms RTT, 50 Mbit/s.
    pub const BROADBAND: LinkProfile = LinkProfile {
        rtt_ms: 20,
        jitter_ms: 1,
        rate_kbit: Some(50_000),
        loss: 0.0,
        queue_ms: 50,
    };
    /// LTE: 60 ms RTT, 10 Mbit/s, 0.5 % loss.
    pub const LTE: LinkProfile = LinkProfile {
        rtt_ms: 60,
        jitter_ms: 5,
        rate_kbit: Some(10_000),
        loss: 0.005,
        queue_ms: 80,
    };
    /// A poor link: 200 ms RTT, 1 Mbit/s, 2 % loss.
    pub const POOR: LinkProfile = LinkProfile {
        rtt_ms: 200,
        jitter_ms: 10,
        rate_kbit: Some(1_000),
        loss: 0.02,
        queue_ms: 200,
    };

    /// The profile called `name` (see [`PROFILES`]).
    pub fn named(name: &str) -> Option<LinkProfile> {
        PROFILES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    /// The delay each direction adds before jitter, in microseconds.
    pub fn one_way_us(&self) -> u64 {
        u64::from(self.rtt_ms) * 500
    }

    /// The `tbf` parameters for this profile's rate: (rate bit/s, burst bytes, limit bytes).
    pub fn tbf(&self) -> Option<(u64, u64, u64)> {
        let kbit = self.rate_kbit?;
        let bytes_per_s = kbit * 1000 / 8;
        // A bucket of 4 ms at the rate (at least a few full packets) keeps the long-run rate
        // exact without starving at high rates; the queue holds `queue_ms` of traffic.
        let burst = (bytes_per_s * 4 / 1000).max(4 * 1514);
        let limit = (bytes_per_s * u64::from(self.queue_ms) / 1000).max(4 * 1514);
        Some((kbit * 1000, burst, limit))
    }
}

impl std::fmt::Display for LinkProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = self.rate_kbit.map_or("unshaped".to_owned(), |k| {
            format!("{:.1} Mbit/s", k as f64 / 1000.0)
        });
        write!(
            f,
            "rtt {} ms (jitter ≤{} ms each way), {rate}, loss {:.2} %",
            self.rtt_ms,
            self.jitter_ms,
            self.loss * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_profiles_match_issue_22() {
        let lte = LinkProfile::named("lte").expect("lte");
        assert_eq!((lte.rtt_ms, lte.rate_kbit, lte.loss), (60, Some(10_000), 0.005));
        let poor = LinkProfile::named("poor").expect("poor");
        assert_eq!((poor.rtt_ms, poor.rate_kbit, poor.loss), (200, Some(1_000), 0.02));
        let home = LinkProfile::named("broadband").expect("broadband");
        assert_eq!((home.rtt_ms, home.rate_kbit), (20, Some(50_000)));
        assert_eq!(LinkProfile::named("lan").and_then(|p| p.tbf()), None);
        assert!(LinkProfile::named("dialup").is_none());
    }

    #[test]
    fn tbf_bucket_and_queue_follow_the_rate() {
        let (rate, burst, limit) = LinkProfile::LTE.tbf().expect("shaped");
        assert_eq!(rate, 10_000_000);
        assert_eq!(
            burst,
            4 * 1514,
            "4 ms of 10 Mbit/s is 5 kB, below the 4-packet floor"
        );
        assert_eq!(limit, 100_000, "80 ms of 1.25 MB/s");
        assert_eq!(LinkProfile::LTE.one_way_us(), 30_000);
    }
}
