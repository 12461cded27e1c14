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
