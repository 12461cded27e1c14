//! What a node does on an open session beyond reconciliation: it answers every BlobWant with a
//! BlobHave (HS-BLOB-2), and it pushes a document it receives from one peer to every other open
//! session at once (HS-SYNC-4).

use humansync_protocol::{BlobHash, CloseCode, DeviceId, DocId, Message, SignedRecord, V1};

use super::super::core_peer::{CorePeer, SessionError};
use super::super::wire::{Dialer, Ending, Wire, after};
use super::super::{Cases, Target, random32};
use super::{DUPLICATE_PAUSE, DUPLICATE_RETRIES, handshake, hello};
use crate::report::Verdict;

const WANT_HAVE: &str = "BlobWant for a hash nobody holds (and the node's own blob, when one was fetched from it) is \
answered with a BlobHave listing exactly the asked hashes the node holds complete";
const LIVE_PUSH: &str = "while the runner holds a session open, a second registered identity gives the node a new \
document: the node pushes it to the first session at once (DocWhole or DocSync), unasked";

/// `blob/want-have` (HS-BLOB-2). `held`: a blob the node served to a registered fetch.
pub(crate) async fn want_have(target: &Target, dialer: &Dialer, held: Option<BlobHash>, cases: &mut Cases) {
    let verdict = match handshake(dialer, target, &hello(&[V1])).await {
        Ok((mut wire, Message::Welcome { .. })) => {
            let verdict = ask(&mut wire, target, held).await;
            wire.close(CloseCode::NORMAL);
            verdict
        }
        Ok((_, other)) => Verdict::Fail(format!("handshake answered with {}", other.kind())),
        Err(end) => Verdict::Fail(format!("no Welcome: {end}")),
    };
    cases.add("blob/want-have", &["HS-BLOB-2"], WANT_HAVE, verdict);
}

async fn ask(wire: &mut Wire, target: &Target, held: Option<BlobHash>) -> Verdict {
    let Ok(noise) = random32() else {
        return Verdict::Fail("no OS randomness".into());
    };
    let nobody = BlobHash(*blake3::hash(&noise).as_bytes());
    let asked: Vec<BlobHash> = std::iter::once(nobody).chain(held).collect();
    if wire
        .send(&Message::BlobWant {
            hashes: asked.clone(),
        })
        .await
        .is_err()
    {
        return Verdict::Fail("could not encode BlobWant".into());
    }
    let deadline = after(target.timeout);
    loop {
        match wire.next_message(deadline).await {
            Ok(Message::BlobHave { hashes }) => {
                if let Some(extra) = hashes.iter().find(|h| !asked.contains(h)) {
                    // A BlobHave for a hash asked earlier by someone else would not come on this
                    // session; one for a hash we did not ask is not the answer.
                    return Verdict::Fail(format!("BlobHave lists {extra}, which was not asked"));
                }
                if hashes.contains(&nobody) {
                    return Verdict::Fail("BlobHave lists a random hash nobody holds".into());
                }
                return match held {
                    Some(h) if !hashes.contains(&h) => Verdict::Fail(format!(
                        "BlobHave leaves out {h}, which the node just served complete"
                    )),
                    _ => Verdict::Pass,
                };
            }
            Ok(_) => continue,
            Err(end) => return Verdict::Fail(format!("no BlobHave answer: {end}")),
        }
    }
}

/// `sync/live-push` (HS-SYNC-4). `listener` holds the open session; `writer` (another registered
/// identity) gives the node a new document through an ordinary sync session.
pub(crate) async fn live_push(
    target: &Target,
    listener: &Dialer,
    writer: &Dialer,
    anchor: DeviceId,
    records: &[SignedRecord],
    cases: &mut Cases,
) {
    let verdict = match push(target, listener, writer, anchor, records).await {
        Ok(()) => Verdict::Pass,
        Err(why) => Verdict::Fail(why),
    };
    cases.add("sync/live-push", &["HS-SYNC-4", "HS-SYNC-1"], LIVE_PUSH, verdict);
}

async fn push(
    target: &Target,
    listener: &Dialer,
    writer: &Dialer,
    anchor: DeviceId,
    records: &[SignedRecord],
) -> Result<(), String> {
    let (mut open, _) = match handshake(listener, target, &hello(&[V1])).await {
        Ok((wire, welcome @ Message::Welcome { .. })) => (wire, welcome),
        Ok((_, other)) => return Err(format!("handshake answered with {}", other.kind())),
        Err(end) => return Err(format!("no Welcome: {end}")),
    };
    let tag = hex::encode(&random32().map_err(|e| e.to_string())?[..6]);
    let doc = DocId::new(format!("conformance/{tag}/pushed")).map_err(|e| e.to_string())?;
    let mut peer = CorePeer::new(writer.id, anchor, records)?;
    peer.create_doc(&doc, "written_by", "humansync-conformance live push")?;
    let mut delivered = false;
    for _ in 0..DUPLICATE_RETRIES {
        let wire = match writer.session(target).await {
            Ok(wire) => wire,
            Err(Ending::Closed(CloseCode::DUPLICATE)) => {
                tokio::time::sleep(DUPLICATE_PAUSE).await;
                continue;
            }
            Err(end) => return Err(format!("the writer could not open a session: {end}")),
        };
        match peer
            .session(target.node, wire, after(target.timeout * 4), |core| {
                core.status().peers.iter().any(|p| p.up_to_date)
            })
            .await
        {
            Ok(()) => {
                delivered = true;
                break;
            }
            Err(SessionError::ClosedByNode(CloseCode::DUPLICATE, _)) => {
                tokio::time::sleep(DUPLICATE_PAUSE).await;
            }
            Err(e) => return Err(format!("the writer's session failed: {e}")),
        }
    }
    if !delivered {
        return Err("the writer's sessions kept being closed as duplicates".into());
    }
    let deadline = after(target.timeout);
    let result = loop {
        match open.next_message(deadline).await {
            Ok(Message::DocWhole { doc: d, .. } | Message::DocSync { doc: d, .. }) if d == doc => {
                break Ok(());
            }
            Ok(_) => continue,
            Err(end) => {
                break Err(format!(
                    "the node took {doc} from another peer but did not push it to the open session: {end}"
                ));
            }
        }
    };
    open.close(CloseCode::NORMAL);
    result
}
