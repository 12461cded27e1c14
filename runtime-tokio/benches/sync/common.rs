//! Helpers every benchmark uses. Node configuration on loopback, waiting for sync and memory
//! readings live in `humansync-benchkit` (shared with the server's benchmarks); what is only this
//! binary's is here.

use humansync::SessionCounters;
use serde::{Deserialize, Serialize};

pub use humansync_benchkit::node::{count_remote_changes, ms_since, session_with, start, wait_synced_traced};

/// A temporary directory next to the build (same disk as the target dir).
pub fn tempdir() -> tempfile::TempDir {
    humansync_benchkit::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
}

/// Traffic of one session as measured at one end.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Traffic {
    /// Session bytes sent plus received, frame headers included.
    pub bytes: u64,
    /// UDP datagram bytes sent plus received (QUIC overhead included).
    pub udp_bytes: u64,
    /// Frames sent plus received.
    pub frames: u64,
    /// Round trips this end waited for.
    pub round_trips: u64,
}

impl Traffic {
    /// The traffic of `session`.
    pub fn of(session: &SessionCounters) -> Traffic {
        Traffic {
            bytes: session.stats.bytes_in + session.stats.bytes_out,
            udp_bytes: session.udp_rx_bytes + session.udp_tx_bytes,
            frames: session.stats.frames_in + session.stats.frames_out,
            round_trips: session.stats.round_trips,
        }
    }
}

/// Peak and current resident set size of this process in KiB (VmHWM, VmRSS).
pub fn memory_kib() -> (u64, u64) {
    let m = humansync_benchkit::proc::Memory::of_self();
    (m.peak_kib, m.rss_kib)
}

/// The runtime every process of this benchmark runs on: two worker threads (this machine's
/// cores), I/O and timers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
