//! Writes the store refused (a full disk, issue 20) are asked for again by the core itself, with
//! a growing delay, until the store takes them: no app write and no restart is needed once space
//! returns. A refused save is asked for whole; a refused tombstone again as a tombstone.

use automerge::transaction::Transactable;
use ed25519_dalek::SigningKey;
use humansync_protocol::{DeviceId, DocId};
use humansync_sansio::{
    Core, CoreConfig, DocWrite, Instant, IoAction, IoResult, IoTask, Output, Startup, Wake,
};

fn core() -> Core {
    let me = DeviceId::from(&SigningKey::from_bytes(&[7; 32]));
    Core::new(
        Instant(0),
        CoreConfig::new(me, vec![7; 16], None),
        Startup::default(),
    )
    .expect("core")
}

/// The store tasks the core asks for now.
fn tasks(core: &mut Core) -> Vec<IoTask> {
    std::iter::from_fn(|| core.poll_output())
        .filter_map(|o| match o {
            Output::Io(task) => Some(task),
            _ => None,
        })
        .collect()
}

fn refused() -> IoResult {
    IoResult::Failed {
        reason: "disk full: No space left on device".into(),
    }
}

#[test]
fn a_refused_save_is_asked_for_again_until_taken() {
    let mut core = core();
    let doc = DocId::new("notes/a").expect("id");
    core.open(Instant(0), &doc, true).expect("open");
    let (_, task) = core
        .change(Instant(0), &doc, |am| {
            let mut tx = am.transaction();
            tx.put(automerge::ROOT, "k", "v").expect("put");
            tx.commit();
        })
        .expect("change");
    let first = task.expect("a save");
    let _ = tasks(&mut core);
    core.handle_io_result(Instant(0), first, refused());
    assert_eq!(core.poll_timeout_reason(), Some((Instant(1_000), Wake::Resave)));
    core.handle_timeout(Instant(999));
    assert!(tasks(&mut core).is_empty(), "not before its time");

    // Refused again: the delay doubles.
    core.handle_timeout(Instant(1_000));
    let again = tasks(&mut core);
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(
        matches!(&again[0].action, IoAction::SaveDoc { doc: d, write: Some(DocWrite::Replace(_)), .. } if *d == doc),
        "a whole save: {again:?}"
    );
    core.handle_io_result(Instant(1_000), again[0].id, refused());
    assert_eq!(core.poll_timeout_reason(), Some((Instant(3_000), Wake::Resave)));

    // Taken: nothing more is asked for.
    core.handle_timeout(Instant(3_000));
    let last = tasks(&mut core);
    assert_eq!(last.len(), 1, "{last:?}");
    core.handle_io_result(Instant(3_000), last[0].id, IoResult::Done);
    assert_ne!(core.poll_timeout_reason().map(|(_, w)| w), Some(Wake::Resave));
    core.handle_timeout(Instant(60_000));
    assert!(tasks(&mut core).is_empty());
}

#[test]
fn a_refused_delete_is_asked_for_again_until_taken() {
    let mut core = core();
    let doc = DocId::new("notes/gone").expect("id");
    let first = core.delete(Instant(0), &doc).expect("delete");
    let _ = tasks(&mut core);
    core.handle_io_result(Instant(0), first, refused());
    core.handle_timeout(Instant(1_000));
    let again = tasks(&mut core);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].action, IoAction::DeleteDoc { doc: doc.clone() });
    core.handle_io_result(Instant(1_000), again[0].id, IoResult::Done);
    core.handle_timeout(Instant(60_000));
    assert!(tasks(&mut core).is_empty());
    assert!(core.list("notes/").is_empty(), "still deleted");
}

/// A core with an open session to a registered peer (`ConnId(2)`, key 4).
fn core_with_peer() -> (Core, humansync_sansio::ConnId) {
    use humansync_protocol::{Fingerprint, Message, RegistryRecord, SetSummary, encode_frame};
    let server = SigningKey::from_bytes(&[1; 32]);
    let me = DeviceId::from(&SigningKey::from_bytes(&[2; 32]));
    let config = CoreConfig::new(me, vec![2; 16], Some(DeviceId::from(&server)));
    let mut core = Core::new(Instant(0), config, Startup::default()).expect("core");
    for seed in [2, 4] {
        let record = RegistryRecord::Device {
            device: DeviceId::from(&SigningKey::from_bytes(&[seed; 32])),
            name: "d".into(),
            paired_at_ms: 1,
        }
        .sign(&server)
        .expect("sign");
        core.add_registry_record(Instant(0), &record).expect("record");
    }
    let conn = humansync_sansio::ConnId(2);
    let peer = DeviceId::from(&SigningKey::from_bytes(&[4; 32]));
    core.handle_connection(Instant(1), conn, peer, humansync_sansio::Role::Acceptor);
    let hello = encode_frame(&Message::Hello {
        versions: vec![1],
        set: SetSummary {
            count: 0,
            fingerprint: Fingerprint::EMPTY,
        },
        devices: core.digest(&DocId::devices()).expect("devices digest"),
    })
    .expect("frame");
    core.handle_bytes(Instant(1), conn, &hello);
    answer(&mut core, Instant(1), |_| IoResult::Done);
    (core, conn)
}

/// Answers every store task the core asks for with `result`, until it asks for none; returns
/// every other output.
fn answer(core: &mut Core, now: Instant, result: impl Fn(&IoAction) -> IoResult) -> Vec<Output> {
    let mut rest = Vec::new();
    while let Some(out) = core.poll_output() {
        match out {
            Output::Io(task) => core.handle_io_result(now, task.id, result(&task.action)),
            other => rest.push(other),
        }
    }
    rest
}

/// Soak and `node_disk_full` finding (a read that never returned, about one run in two): a whole
/// document from a peer whose write the store refused is kept in memory only; a read of it loads
/// it from those kept bytes at once, inside the read's own open, which ran the request before it
/// was queued behind the load — and then queued it for a load that had already completed. The
/// read must be answered, with the document's content.
#[test]
fn a_read_of_a_whole_document_whose_write_was_refused_is_answered() {
    use humansync_protocol::{ChangeHash, Message, encode_frame};
    use humansync_sansio::{AppRequest, AppRequestId};
    use std::sync::{Arc, Mutex};
    let (mut core, conn) = core_with_peer();
    let doc = DocId::new("notes/from-peer").expect("id");
    let mut am = automerge::Automerge::new();
    am.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "k", "v").map(|_| ()))
        .expect("put");
    let mut heads: Vec<ChangeHash> = am.get_heads().iter().map(|h| ChangeHash(h.0)).collect();
    heads.sort_unstable();
    let whole = Message::DocWhole {
        doc: doc.clone(),
        heads,
        blobs: Vec::new(),
        bytes: am.save(),
    };
    core.handle_bytes(Instant(2), conn, &encode_frame(&whole).expect("frame"));
    // The store refuses the document's write (a full disk); it holds nothing of it.
    answer(&mut core, Instant(2), |action| match action {
        IoAction::SaveDoc { doc: d, .. } if *d == doc => refused(),
        IoAction::LoadDoc { .. } => IoResult::NotFound,
        _ => IoResult::Done,
    });

    let seen = Arc::new(Mutex::new(None));
    let sink = seen.clone();
    let read = AppRequest::Read {
        doc: doc.clone(),
        f: Box::new(move |am: &automerge::Automerge| {
            use automerge::ReadDoc;
            *sink.lock().expect("lock") = am
                .get(automerge::ROOT, "k")
                .ok()
                .flatten()
                .and_then(|(v, _)| v.into_string().ok());
        }),
    };
    core.handle_app_request(Instant(3), AppRequestId(9), read);
    let out = answer(&mut core, Instant(3), |action| match action {
        IoAction::SaveDoc { .. } => refused(),
        IoAction::LoadDoc { .. } => IoResult::NotFound,
        _ => IoResult::Done,
    });
    let done: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::AppDone { id, result } => Some((*id, result.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(done, vec![(AppRequestId(9), Ok(()))], "the read is answered");
    assert_eq!(
        seen.lock().expect("lock").as_deref(),
        Some("v"),
        "from the kept bytes"
    );
}
