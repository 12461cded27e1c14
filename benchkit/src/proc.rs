//! Resident memory of a process, from `/proc/<pid>/status` (Linux): `VmRSS` now and `VmHWM`,
//! the peak since the process started (exact, kept by the kernel), and a sampler that records the
//! highest `VmRSS` seen while something runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// One reading, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the highest resident size since the process started.
    pub peak_kib: u64,
    /// `RssAnon`: the anonymous part of `VmRSS` now (heap, stacks); the rest is mostly mapped
    /// files — the binary's own code — which the kernel can drop and read again. 0 if unknown.
    pub anon_kib: u64,
}

impl Memory {
    /// Reads process `pid`'s status; `None` if it has exited (or this is not Linux).
    pub fn of(pid: u32) -> Option<Memory> {
        Self::read(&format!("/proc/{pid}/status"))
    }

    /// Reads this process's status (zeros if unreadable).
    pub fn of_self() -> Memory {
        Self::read("/proc/self/status").unwrap_or_default()
    }

    fn read(path: &str) -> Option<Memory> {
        let status = std::fs::read_to_string(path).ok()?;
        let field = |name: &str| -> Option<u64> {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        };
        Some(Memory {
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
            anon_kib: field("RssAnon:").unwrap_or(0),
        })
    }
}

/// KiB to MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Reads process `pid`'s `VmRSS` every `every` on a thread until [`RssSampler::stop`].
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u64, usize)>,
}

impl RssSampler {
    /// Starts sampling.
    pub fn start(pid: u32, every: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut max, mut samples) = (0, 0);
            while !flag.load(Ordering::Relaxed) {
                if let Some(m) = Memory::of(pid) {
                    max = max.max(m.rss_kib);
                    samples += 1;
                }
                std::thread::sleep(every);
            }
            (max, samples)
        });
        RssSampler { stop, thread }
    }

    /// Stops; returns the highest `VmRSS` seen in KiB and the number of readings.
    pub fn stop(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler thread")
    }
}
