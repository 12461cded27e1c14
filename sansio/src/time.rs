//! Time as the core sees it: passed in by the caller, never read from the OS.

/// A monotonic instant in milliseconds since an arbitrary origin chosen by the runtime.
///
/// The core only compares and adds these; the runtime maps them to its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

impl Instant {
    /// `self + ms`, saturating.
    pub fn plus_ms(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn ms_since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Wall-clock time in unix milliseconds, used only where SPEC.md needs wall time (registry records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMs(pub u64);
