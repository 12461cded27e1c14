//! The process's request to stop — SIGTERM (`docker stop`, systemd) or Ctrl-C — listened for from
//! the moment it is made.
//!
//! A process that installs its handler only once it is serving dies by the signal's default
//! action when the signal comes during its start-up: no clean shutdown and no exit status (the
//! chaos soak saw a server stopped 90 ms after a start die that way). Make one [`StopSignal`]
//! first, before anything slow; a signal that arrives before [`StopSignal::recv`] is kept, and
//! `recv` then returns at once, so the start-up finishes and is shut down cleanly.

/// A stop request (SIGTERM or Ctrl-C), kept from the moment it is made (see the module docs).
#[derive(Debug)]
pub struct StopSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignal {
    /// Starts listening now. Must be called inside a Tokio runtime; fails only when the handlers
    /// cannot be installed.
    pub fn listen() -> std::io::Result<StopSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignal {
                term: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignal {})
        }
    }

    /// Waits for a stop request; returns at once if one came since [`StopSignal::listen`].
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_before_recv_is_kept() {
        let mut stop = StopSignal::listen().expect("handlers");
        let me = rustix::process::getpid();
        rustix::process::kill_process(me, rustix::process::Signal::TERM).expect("SIGTERM to self");
        tokio::time::timeout(std::time::Duration::from_secs(10), stop.recv())
            .await
            .expect("the SIGTERM sent before recv is delivered to it");
    }
}
