//! App requests completed by id (`humansync_sansio::app`): a request waits for its document's
//! load inside the core and is answered by one `Output::AppDone` — a change once its save is
//! durable (HS-SYNC-8), a delete once its tombstone is (HS-DOC-5).

use std::sync::{Arc, Mutex};

use automerge::transaction::Transactable;
use automerge::{Automerge, ReadDoc};
use humansync_protocol::{ChangeHash, DeviceId, DocId};
use humansync_sansio::{
    AppRequest, AppRequestId, Core, CoreConfig, CoreError, DocMeta, Instant, IoAction, IoResult, IoTask,
    Output, Startup,
};

fn doc() -> DocId {
    DocId::new("notes/a").expect("id")
}

/// A stored document with `k = v`, as its bytes and index row.
fn stored() -> (Vec<u8>, DocMeta) {
    let mut am = Automerge::new();
    am.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "k", "v").map(|_| ()))
        .expect("put");
    let mut heads: Vec<ChangeHash> = am.get_heads().iter().map(|h| ChangeHash(h.0)).collect();
    heads.sort_unstable();
    let meta = DocMeta {
        heads: heads.into_iter().collect(),
        blobs: Box::default(),
        tombstone: false,
    };
    (am.save(), meta)
}

/// An unpaired core whose store holds `notes/a` (not loaded yet).
fn core() -> Core {
    let me = DeviceId::from(&ed25519_dalek::SigningKey::from_bytes(&[2; 32]));
    let config = CoreConfig::new(me, vec![2; 16], None);
    let startup = Startup {
        index: vec![(doc(), stored().1)],
        ..Startup::default()
    };
    let mut core = Core::new(Instant(0), config, startup).expect("core");
    // Whatever the core writes at start is durable before the test begins.
    for task in tasks(&drain(&mut core)) {
        core.handle_io_result(Instant(0), task.id, IoResult::Done);
    }
    drain(&mut core);
    assert_eq!(core.io_counts().disk_pending, 0);
    core
}

fn drain(core: &mut Core) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn tasks(out: &[Output]) -> Vec<IoTask> {
    out.iter()
        .filter_map(|o| match o {
            Output::Io(task) => Some(task.clone()),
            _ => None,
        })
        .collect()
}

fn done(out: &[Output]) -> Vec<(AppRequestId, Result<(), CoreError>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::AppDone { id, result } => Some((*id, result.clone())),
            _ => None,
        })
        .collect()
}

/// A change that puts `k = value` and reports what it saw before into `seen`.
fn put(value: &'static str, seen: &Arc<Mutex<Option<String>>>) -> AppRequest {
    let seen = seen.clone();
    AppRequest::Change {
        doc: doc(),
        f: Box::new(move |am: &mut Automerge| {
            let before = am
                .get(automerge::ROOT, "k")
                .ok()
                .flatten()
                .and_then(|(v, _)| v.into_string().ok());
            *seen.lock().expect("lock") = before;
            am.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(automerge::ROOT, "k", value).map(|_| ())
            })
            .expect("put");
        }),
    }
}

/// Answers the one load task in `out` with the stored bytes.
fn answer_load(core: &mut Core, out: &[Output]) {
    let load = tasks(out)
        .into_iter()
        .find(|t| matches!(t.action, IoAction::LoadDoc { .. }))
        .expect("a load task");
    let result = IoResult::Loaded {
        bytes: stored().0,
        sync_states: Vec::new(),
    };
    core.handle_io_result(Instant(2), load.id, result);
}

/// HS-SYNC-8: a change of a document not loaded waits for the load inside the core, runs on the
/// loaded content, and is answered only once its save is durable.
#[test]
fn a_change_waits_for_its_load_and_is_answered_once_durable() {
    let mut core = core();
    let saves_before = core.io_counts().saves_done;
    let seen = Arc::new(Mutex::new(None));
    core.handle_app_request(Instant(1), AppRequestId(7), put("w", &seen));
    let out = drain(&mut core);
    assert!(done(&out).is_empty(), "answered before the load: {out:?}");
    assert_eq!(core.io_counts().loads, 1);
    assert_eq!(core.io_counts().disk_pending, 1);
    answer_load(&mut core, &out);
    let out = drain(&mut core);
    assert_eq!(
        seen.lock().expect("lock").as_deref(),
        Some("v"),
        "ran on the loaded content"
    );
    assert!(done(&out).is_empty(), "answered before the save: {out:?}");
    let save = tasks(&out)
        .into_iter()
        .find(|t| matches!(t.action, IoAction::SaveDoc { .. }))
        .expect("a save task");
    core.handle_io_result(Instant(3), save.id, IoResult::Done);
    assert_eq!(done(&drain(&mut core)), vec![(AppRequestId(7), Ok(()))]);
    let counts = core.io_counts();
    assert_eq!(
        (
            counts.loads,
            counts.saves_done - saves_before,
            counts.disk_pending
        ),
        (1, 1, 0)
    );
}

/// A read of a loaded document, or a change that changes nothing, is answered at once.
#[test]
fn a_read_of_a_loaded_document_is_answered_at_once() {
    let mut core = core();
    let seen = Arc::new(Mutex::new(None));
    core.handle_app_request(Instant(1), AppRequestId(1), put("v", &seen));
    let out = drain(&mut core);
    answer_load(&mut core, &out);
    drain(&mut core);
    let value = Arc::new(Mutex::new(None));
    let into = value.clone();
    let read = AppRequest::Read {
        doc: doc(),
        f: Box::new(move |am: &Automerge| {
            *into.lock().expect("lock") = Some(am.get(automerge::ROOT, "k").ok().flatten().is_some());
        }),
    };
    core.handle_app_request(Instant(4), AppRequestId(2), read);
    let out = drain(&mut core);
    assert_eq!(done(&out), vec![(AppRequestId(2), Ok(()))]);
    assert!(tasks(&out).is_empty(), "a read writes nothing: {out:?}");
    assert_eq!(*value.lock().expect("lock"), Some(true));
}

/// HS-DOC-5: a request waiting for a load of a document deleted meanwhile is answered with
/// `Deleted` (a runtime used to park it until a DocReady that never came); the delete is
/// answered once its tombstone is durable.
#[test]
fn a_request_waiting_on_a_deleted_document_is_answered() {
    let mut core = core();
    let seen = Arc::new(Mutex::new(None));
    core.handle_app_request(Instant(1), AppRequestId(1), put("w", &seen));
    drain(&mut core);
    core.handle_app_request(Instant(2), AppRequestId(2), AppRequest::Delete { doc: doc() });
    let out = drain(&mut core);
    assert_eq!(
        done(&out),
        vec![(AppRequestId(1), Err(CoreError::Deleted(doc())))]
    );
    assert!(seen.lock().expect("lock").is_none(), "the change never ran");
    let delete = tasks(&out)
        .into_iter()
        .find(|t| matches!(t.action, IoAction::DeleteDoc { .. }))
        .expect("a delete task");
    core.handle_io_result(Instant(3), delete.id, IoResult::Done);
    assert_eq!(done(&drain(&mut core)), vec![(AppRequestId(2), Ok(()))]);
}

/// HS-SYNC-8: a change whose save fails is not acknowledged as durable.
#[test]
fn a_failed_save_fails_the_change() {
    let mut core = core();
    let saves_before = core.io_counts().saves_done;
    let seen = Arc::new(Mutex::new(None));
    core.handle_app_request(Instant(1), AppRequestId(3), put("w", &seen));
    let out = drain(&mut core);
    answer_load(&mut core, &out);
    let out = drain(&mut core);
    let save = tasks(&out)
        .into_iter()
        .find(|t| matches!(t.action, IoAction::SaveDoc { .. }))
        .expect("a save task");
    let failed = IoResult::Failed {
        reason: "disk full".into(),
    };
    core.handle_io_result(Instant(3), save.id, failed);
    assert_eq!(
        done(&drain(&mut core)),
        vec![(AppRequestId(3), Err(CoreError::Storage("disk full".into())))]
    );
    assert_eq!(
        core.io_counts().saves_done,
        saves_before,
        "a failed save is not done"
    );
}

/// HS-SYNC-13: a read and a change waiting on a load that finds the stored copy corrupt are
/// answered `Quarantined` — neither runs on an empty stand-in (a read would show the app nothing;
/// a change would be saved as a new history that forks the document once the copy from a peer
/// arrives). Later ones are refused at once, with no load; a delete still discards it.
#[test]
fn requests_on_a_corrupt_document_are_refused_while_it_is_recovered() {
    let mut core = core();
    let ran = Arc::new(Mutex::new(false));
    let into = ran.clone();
    let read = AppRequest::Read {
        doc: doc(),
        f: Box::new(move |_: &Automerge| *into.lock().expect("lock") = true),
    };
    core.handle_app_request(Instant(1), AppRequestId(1), read);
    let seen = Arc::new(Mutex::new(None));
    core.handle_app_request(Instant(1), AppRequestId(2), put("w", &seen));
    let out = drain(&mut core);
    let load = tasks(&out)
        .into_iter()
        .find(|t| matches!(t.action, IoAction::LoadDoc { .. }))
        .expect("a load task");
    let corrupt = IoResult::Loaded {
        bytes: b"not an automerge document".to_vec(),
        sync_states: Vec::new(),
    };
    core.handle_io_result(Instant(2), load.id, corrupt);
    let out = drain(&mut core);
    let refused = Err(CoreError::Quarantined(doc()));
    assert_eq!(
        done(&out),
        vec![
            (AppRequestId(1), refused.clone()),
            (AppRequestId(2), refused.clone())
        ]
    );
    assert!(!*ran.lock().expect("lock"), "the read never ran");
    assert!(seen.lock().expect("lock").is_none(), "the change never ran");
    assert!(tasks(&out).is_empty(), "nothing written: {out:?}");
    assert!(core.doc(&doc()).is_none(), "no stand-in in the cache");
    assert_eq!(core.status().quarantined.len(), 1);

    // Asked again: refused at once, without loading anything.
    core.handle_app_request(Instant(3), AppRequestId(3), put("x", &seen));
    let out = drain(&mut core);
    assert_eq!(done(&out), vec![(AppRequestId(3), refused)]);
    assert!(tasks(&out).is_empty(), "no load, no save: {out:?}");
    assert_eq!(core.io_counts().loads, 1);

    // A delete discards it for good.
    core.handle_app_request(Instant(4), AppRequestId(4), AppRequest::Delete { doc: doc() });
    let out = drain(&mut core);
    let delete = tasks(&out)
        .into_iter()
        .find(|t| matches!(t.action, IoAction::DeleteDoc { .. }))
        .expect("a delete task");
    core.handle_io_result(Instant(5), delete.id, IoResult::Done);
    assert_eq!(done(&drain(&mut core)), vec![(AppRequestId(4), Ok(()))]);
    assert!(core.status().quarantined.is_empty());
}
