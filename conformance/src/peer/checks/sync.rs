//! Reconciliation and sync converge both ways (HS-RECON-*, HS-SYNC-*).
//!
//! The runner creates fresh documents in its own reference core, syncs with the node until its
//! core reports the session up to date, then probes with a raw Hello carrying its own set
//! summary: a Welcome with the same summary (count and fingerprint, HS-RECON-1) shows that the
//! node now holds exactly the runner's set — the node's documents plus the runner's, with the
//! same digests. Documents arriving after "up to date" (the node MAY send DocWhole after its
//! final Reconcile) are picked up by another round, at most [`ROUNDS`].

use humansync_protocol::{BlobHash, CloseCode, DeviceId, DocId, Message, SetSummary, SignedRecord, V1};

use super::super::core_peer::{CorePeer, SessionError};
use super::super::wire::{Dialer, Ending, after};
use super::super::{Cases, Target, random32};
use super::{DUPLICATE_PAUSE, DUPLICATE_RETRIES, handshake};
use crate::report::Verdict;

/// Sync sessions tried before the check fails.
const ROUNDS: usize = 5;
/// Documents the runner creates.
const DOCS: usize = 3;

const REQS: &[&str] = &[
    "HS-RECON-1",
    "HS-RECON-2",
    "HS-RECON-3",
    "HS-RECON-4",
    "HS-RECON-6",
    "HS-RECON-7",
    "HS-RECON-10",
    "HS-RECON-12",
    "HS-SYNC-1",
    "HS-SYNC-2",
    "HS-SYNC-3",
];

/// Runs the convergence check; returns a blob the node's documents reference, if any.
pub(crate) async fn converge(
    target: &Target,
    dialer: &Dialer,
    anchor: DeviceId,
    records: &[SignedRecord],
    cases: &mut Cases,
) -> Option<BlobHash> {
    let description = "the runner creates 3 documents and syncs: both sides end with the same document set (the node's documents and the runner's)";
    let (verdict, blob) = match run(target, dialer, anchor, records).await {
        Ok(blob) => (Verdict::Pass, blob),
        Err(why) => (Verdict::Fail(why), None),
    };
    cases.add("sync/converge", REQS, description, verdict);
    blob
}

async fn run(
    target: &Target,
    dialer: &Dialer,
    anchor: DeviceId,
    records: &[SignedRecord],
) -> Result<Option<BlobHash>, String> {
    let mut peer = CorePeer::new(dialer.id, anchor, records)?;
    let tag = hex::encode(&random32().map_err(|e| e.to_string())?[..6]);
    let mut ours = Vec::new();
    for i in 0..DOCS {
        let doc = DocId::new(format!("conformance/{tag}/doc-{i}")).map_err(|e| e.to_string())?;
        peer.create_doc(&doc, "written_by", "humansync-conformance")?;
        ours.push(doc);
    }
    let mut last = String::new();
    let mut duplicates = 0;
    let mut round = 0;
    while round < ROUNDS {
        let wire = open(dialer, target).await?;
        let deadline = after(target.timeout * 4);
        let synced = peer
            .session(target.node, wire, deadline, |core| {
                core.status().peers.iter().any(|p| p.up_to_date)
            })
            .await;
        match synced {
            Ok(()) => round += 1,
            Err(SessionError::ClosedByNode(CloseCode::DUPLICATE, _)) if duplicates < DUPLICATE_RETRIES => {
                duplicates += 1;
                tokio::time::sleep(DUPLICATE_PAUSE).await;
                continue;
            }
            Err(e) => return Err(e.to_string()),
        }
        let mine = peer.core().set_summary();
        let theirs = probe(dialer, target, mine).await?;
        if theirs == mine {
            for doc in &ours {
                if peer.core().digest(doc).is_none() {
                    return Err(format!("the runner lost its own document {doc}"));
                }
            }
            return Ok(peer.core().missing_blobs().first().copied());
        }
        last = format!(
            "runner set {{count {}, fingerprint {}}}, node set {{count {}, fingerprint {}}}",
            mine.count, mine.fingerprint, theirs.count, theirs.fingerprint
        );
    }
    Err(format!("not converged after {ROUNDS} sync sessions: {last}"))
}

/// Opens a session stream, retrying while the node still holds our previous session.
async fn open(dialer: &Dialer, target: &Target) -> Result<super::Wire, String> {
    for _ in 0..DUPLICATE_RETRIES {
        match dialer.session(target).await {
            Ok(wire) => return Ok(wire),
            Err(Ending::Closed(CloseCode::DUPLICATE)) => tokio::time::sleep(DUPLICATE_PAUSE).await,
            Err(end) => return Err(format!("could not open a session: {end}")),
        }
    }
    Err("the node kept refusing new sessions as duplicates".into())
}

/// A raw Hello carrying `set`: the node's Welcome summary.
async fn probe(dialer: &Dialer, target: &Target, set: SetSummary) -> Result<SetSummary, String> {
    let hello = Message::Hello {
        versions: vec![V1],
        set,
        devices: humansync_protocol::DocDigest([0; 16]),
    };
    match handshake(dialer, target, &hello).await {
        Ok((wire, Message::Welcome { set, .. })) => {
            wire.close(CloseCode::NORMAL);
            Ok(set)
        }
        Ok((_, other)) => Err(format!("probe Hello answered with {}", other.kind())),
        Err(end) => Err(format!("probe Hello got no Welcome: {end}")),
    }
}
