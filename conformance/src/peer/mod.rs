//! `humansync-conformance peer`: checks a live node black-box over real iroh.
//!
//! The runner dials the node by id and direct address (relays and discovery off) with fresh
//! keys of its own and reports one case per behaviour, each naming the SPEC.md requirements it
//! checks, as Pass / Fail / Non-strict / Skipped (the same [`Report`] as `vectors`):
//!
//! * without registration: an unregistered id gets zero application bytes and the
//!   `CLOSE_NOT_REGISTERED` code on the sync and the blobs ALPN (HS-GATE-3, HS-BLOB-3);
//! * with registration ([`enroll`]: the server's HTTP API, or an anchor key for a bare library
//!   node): handshake and version negotiation, close codes for malformed and oversized frames,
//!   refusal of extra streams (HS-TRANSPORT-2), the duplicate-session tie-break (HS-TRANSPORT-4),
//!   the `_devices`-first rule, reconciliation and sync converging both ways, BlobWant / BlobHave
//!   (HS-BLOB-2), an admitted blob fetch, live push to an open session (HS-SYNC-4), and a revoked
//!   id being disconnected and then refused.
//!
//! Checks that cannot run (no registration, no blob referenced) are Skipped with the reason.

mod checks;
mod core_peer;
pub mod enroll;
mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use humansync_protocol::DeviceId;

use crate::report::{CaseReport, Report, Verdict};

pub use enroll::{AnchorPush, Enrollment, ServerApi};
pub use wire::{Ending, Observed};

/// The node under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its device id (iroh endpoint id).
    pub node: DeviceId,
    /// Its direct UDP addresses (at least one).
    pub addrs: Vec<SocketAddr>,
    /// How long to wait for each expected reaction.
    pub timeout: Duration,
}

/// Why the runner could not run at all (as opposed to a check failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// Binding, signing, pairing or the anchor's registry push failed.
    #[error("setup: {0}")]
    Setup(String),
    /// The node closed a new session as a duplicate of one it still holds (HS-TRANSPORT-4);
    /// the runner retries after a pause, so this is only returned when retries ran out.
    #[error("the node kept closing new sessions as duplicates")]
    Duplicate,
    /// Neither a node address nor a server to ask for one.
    #[error("no node id / address given and no server to learn them from")]
    NoTarget,
}

/// The node under test as given on the command line: against a server, a missing id or
/// address is taken from its pairing answer (`server_node_id`, `server_addrs`).
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The node's device id, if given.
    pub node: Option<DeviceId>,
    /// Its direct addresses, if given.
    pub addrs: Vec<SocketAddr>,
    /// How long to wait for each expected reaction.
    pub timeout: Duration,
}

impl TargetSpec {
    /// The complete target, filling gaps from the server's first pairing answer.
    fn resolve(&self, enrollment: Option<&Enrollment>) -> Result<Target, PeerError> {
        let paired = match enrollment {
            Some(Enrollment::Server(api)) => api.first.as_ref(),
            _ => None,
        };
        let node = match (self.node, paired) {
            (Some(node), Some(answer)) if node != answer.server_node_id => {
                return Err(PeerError::Setup(format!(
                    "the server's id is {}, not the given {node}",
                    answer.server_node_id
                )));
            }
            (Some(node), _) => node,
            (None, Some(answer)) => answer.server_node_id,
            (None, None) => return Err(PeerError::NoTarget),
        };
        let addrs = match (self.addrs.is_empty(), paired) {
            (false, _) => self.addrs.clone(),
            (true, Some(answer)) => answer
                .server_addrs
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect(),
            (true, None) => Vec::new(),
        };
        if addrs.is_empty() {
            return Err(PeerError::NoTarget);
        }
        Ok(Target {
            node,
            addrs,
            timeout: self.timeout,
        })
    }
}

/// Runs every check against the node, registering identities with `enrollment` if given.
pub async fn run(spec: TargetSpec, enrollment: Option<Enrollment>) -> Result<Report, PeerError> {
    let mut cases = Cases::default();
    checks::run_all(&spec, enrollment, &mut cases).await?;
    Ok(Report { cases: cases.0 })
}

/// Collects case reports.
#[derive(Default)]
pub(crate) struct Cases(Vec<CaseReport>);

impl Cases {
    pub(crate) fn add(&mut self, id: &str, requirements: &[&str], description: &str, verdict: Verdict) {
        self.0.push(CaseReport {
            file: "peer".into(),
            id: id.into(),
            kind: "peer".into(),
            requirements: requirements.iter().map(|r| (*r).to_owned()).collect(),
            description: description.into(),
            verdict,
        });
    }
}

/// 32 bytes from the OS (fresh runner keys, document names).
pub(crate) fn random32() -> Result<[u8; 32], PeerError> {
    let mut out = [0u8; 32];
    getrandom::fill(&mut out).map_err(|e| PeerError::Setup(format!("no OS randomness: {e}")))?;
    Ok(out)
}

/// Wall-clock unix ms (record timestamps are informational, HS-REG-4).
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
