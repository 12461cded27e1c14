//! Wall-clock time for the server, injectable so tests can move it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of unix milliseconds.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        }))
    }

    /// A clock that reads `source` (tests set it).
    pub fn manual(source: Arc<AtomicU64>) -> Clock {
        Clock(Arc::new(move || source.load(Ordering::SeqCst)))
    }

    /// Now, unix ms.
    pub fn now_ms(&self) -> u64 {
        (self.0)()
    }
}
