//! Performs the core's dial requests ([`humansync_sansio::Output::Dial`]). Who is dialled, when
//! and with what backoff is the core's decision (HS-TRANSPORT-4, HS-GATE-5..7); this only keeps
//! the addresses learned for each peer (pairing, GET /devices, the app), dials with a bounded
//! wait, and reports failures back so that the core can back off.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use humansync_protocol::DeviceId;
use tokio::sync::mpsc;

use super::Input;
use crate::transport::Transport;

/// The longest a dial may take before it counts as failed. QUIC retransmits its first packet
/// with a growing delay, so a dial started while the peer was down can take long to notice the
/// peer is back; the core's backoff then starts a fresh one.
pub(crate) const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Addresses per peer, and the dials in flight.
pub(crate) struct Dialer {
    addrs: BTreeMap<DeviceId, Vec<SocketAddr>>,
    failed: mpsc::UnboundedSender<Input>,
}

impl Dialer {
    /// A dialer reporting failed dials on the driver's queue ([`Input::DialFailed`]).
    pub(crate) fn new(failed: mpsc::UnboundedSender<Input>) -> Self {
        Dialer {
            addrs: BTreeMap::new(),
            failed,
        }
    }

    /// Records addresses for a peer; true when they are new (the same addresses reported again,
    /// as GET /devices does every interval, are not news).
    pub(crate) fn set_addrs(&mut self, peer: DeviceId, addrs: Vec<SocketAddr>) -> bool {
        let entry = self.addrs.entry(peer).or_default();
        if *entry == addrs {
            return false;
        }
        *entry = addrs;
        true
    }

    /// Dials `peer` in the background. Success shows up as the transport's `Connected` event;
    /// a failure (or no answer within [`DIAL_TIMEOUT`]) is reported on the failure channel.
    pub(crate) fn dial(&self, peer: DeviceId, transport: &Arc<Transport>) {
        let (addrs, transport, failed) = (
            self.addrs.get(&peer).cloned().unwrap_or_default(),
            transport.clone(),
            self.failed.clone(),
        );
        tokio::spawn(async move {
            match tokio::time::timeout(DIAL_TIMEOUT, transport.dial(peer, addrs)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "dial failed");
                    let _ = failed.send(Input::DialFailed(peer));
                }
                Err(_) => {
                    tracing::debug!(%peer, "dial timed out");
                    let _ = failed.send(Input::DialFailed(peer));
                }
            }
        });
    }
}
