//! Per-document rules on one registered session (HS-SYNC-5, HS-DOC-5, HS-SYNC-10, HS-SYNC-2).
//!
//! The runner leaves traces on the node: a document created by DocSync, a tombstone, and
//! (if the node stores DocWhole bytes unparsed) nothing else, all under `conformance/<random>/`.

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use humansync_protocol::{CloseCode, DocId, Message, V1};

use super::super::wire::{Dialer, Ending, Wire, after};
use super::super::{Cases, Target, random32};
use super::{handshake, hello};
use crate::report::Verdict;

const CREATED: &str =
    "DocSync for a document the node does not hold: it creates the document and syncs (answers DocSync)";
const TOMBSTONED: &str = "DocDeleted for a document the node never held records a tombstone; a later DocSync for it is answered DocDeleted";
const GARBAGE: &str = "DocWhole whose bytes are not an Automerge document is discarded: DocWant for it is answered DocMissing (or the node closes with CLOSE_PROTOCOL)";

/// Runs the three document cases on one session.
pub(crate) async fn all(target: &Target, dialer: &Dialer, cases: &mut Cases) {
    let mut wire = match handshake(dialer, target, &hello(&[V1])).await {
        Ok((wire, Message::Welcome { .. })) => wire,
        Ok((_, other)) => return fail_all(cases, &format!("handshake answered {}", other.kind())),
        Err(end) => return fail_all(cases, &format!("no Welcome: {end}")),
    };
    let tag = match random32() {
        Ok(bytes) => hex::encode(&bytes[..6]),
        Err(e) => return fail_all(cases, &e.to_string()),
    };
    let id = |name: &str| DocId::new(format!("conformance/{tag}/{name}"));
    let (Ok(created), Ok(deleted), Ok(garbage)) = (id("created"), id("deleted"), id("garbage")) else {
        return fail_all(cases, "could not build document ids");
    };
    let first = match first_sync_message() {
        Ok(bytes) => bytes,
        Err(e) => return fail_all(cases, &e),
    };

    let _ = wire
        .send(&Message::DocSync {
            doc: created.clone(),
            message: first.clone(),
        })
        .await;
    let verdict = match wait_for(
        &mut wire,
        target,
        |m| matches!(m, Message::DocSync { doc, .. } if *doc == created),
    )
    .await
    {
        Ok(_) => Verdict::Pass,
        Err(end) => Verdict::Fail(format!("no DocSync answer: {end}")),
    };
    cases.add(
        "doc/docsync-creates",
        &["HS-SYNC-5", "HS-SYNC-3"],
        CREATED,
        verdict,
    );

    let _ = wire.send(&Message::DocDeleted { doc: deleted.clone() }).await;
    let _ = wire
        .send(&Message::DocSync {
            doc: deleted.clone(),
            message: first,
        })
        .await;
    let verdict = match wait_for(&mut wire, target, |m| {
        matches!(m, Message::DocDeleted { doc } if *doc == deleted)
            || matches!(m, Message::DocSync { doc, .. } if *doc == deleted)
    })
    .await
    {
        Ok(Message::DocDeleted { .. }) => Verdict::Pass,
        Ok(other) => Verdict::Fail(format!("answered {} for a tombstoned document", other.kind())),
        Err(end) => Verdict::Fail(format!("no DocDeleted answer: {end}")),
    };
    cases.add(
        "doc/tombstone-answers-deleted",
        &["HS-SYNC-5", "HS-DOC-5"],
        TOMBSTONED,
        verdict,
    );

    let _ = wire
        .send(&Message::DocWhole {
            doc: garbage.clone(),
            heads: Vec::new(),
            blobs: Vec::new(),
            bytes: b"these bytes are not an automerge document".to_vec(),
        })
        .await;
    let _ = wire
        .send(&Message::DocWant {
            docs: vec![garbage.clone()],
        })
        .await;
    let verdict = match wait_for(&mut wire, target, |m| match m {
        Message::DocMissing { doc } | Message::DocWhole { doc, .. } | Message::DocDeleted { doc } => {
            *doc == garbage
        }
        _ => false,
    })
    .await
    {
        Ok(Message::DocMissing { .. }) => Verdict::Pass,
        // HS-SYNC-12: bytes stored unparsed must at least be Automerge chunks; these are not.
        Ok(Message::DocWhole { bytes, .. }) if bytes.starts_with(b"these bytes are not") => {
            Verdict::Fail("the node stored and re-served DocWhole bytes that are not Automerge chunks".into())
        }
        Ok(other) => Verdict::Fail(format!(
            "answered {} for a document whose bytes do not load",
            other.kind()
        )),
        // HS-SYNC-10: the receiver MAY close with CLOSE_PROTOCOL instead.
        Err(Ending::Closed(CloseCode::PROTOCOL)) => Verdict::Pass,
        Err(end) => Verdict::Fail(format!("no answer to DocWant: {end}")),
    };
    cases.add(
        "doc/unloadable-discarded",
        &["HS-SYNC-10", "HS-SYNC-12", "HS-SYNC-2"],
        GARBAGE,
        verdict,
    );

    wire.finish(after(target.timeout)).await;
    wire.close(CloseCode::NORMAL);
}

/// The first Automerge sync message of a one-change document (heads, no changes yet).
fn first_sync_message() -> Result<Vec<u8>, String> {
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    tx.put(ROOT, "_schema_version", 1_u64)
        .map_err(|e| e.to_string())?;
    tx.put(ROOT, "written_by", "humansync-conformance")
        .map_err(|e| e.to_string())?;
    tx.commit();
    let mut state = sync::State::new();
    doc.generate_sync_message(&mut state)
        .map(|m| m.encode())
        .ok_or_else(|| "automerge produced no first sync message".to_owned())
}

/// Reads messages until one matches `pred`, or says how the connection ended first.
async fn wait_for(
    wire: &mut Wire,
    target: &Target,
    pred: impl Fn(&Message) -> bool,
) -> Result<Message, Ending> {
    let deadline = after(target.timeout);
    loop {
        let msg = wire.next_message(deadline).await?;
        if pred(&msg) {
            return Ok(msg);
        }
    }
}

fn fail_all(cases: &mut Cases, why: &str) {
    cases.add(
        "doc/docsync-creates",
        &["HS-SYNC-5", "HS-SYNC-3"],
        CREATED,
        Verdict::Fail(why.into()),
    );
    cases.add(
        "doc/tombstone-answers-deleted",
        &["HS-SYNC-5", "HS-DOC-5"],
        TOMBSTONED,
        Verdict::Fail(why.into()),
    );
    cases.add(
        "doc/unloadable-discarded",
        &["HS-SYNC-10", "HS-SYNC-2"],
        GARBAGE,
        Verdict::Fail(why.into()),
    );
}
