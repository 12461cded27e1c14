//! What a peer sent is acknowledged only once the receiver's store has taken it (HS-SYNC-8;
//! issue 20, soak seed 303, where a device with a full disk was reported up to date, then
//! killed, and lacked four changes and kept two deleted notes after its restart):
//! - `Held` covers a received document only once durable (HS-SYNC-14): while the disk is full
//!   the sender keeps it outstanding and never reports the receiver up to date for it; once
//!   space returns the receiver's own retry makes it durable and the count moves on.
//! - A peer's `Synced` cursor is kept only once every write is durable, refused ones included
//!   (HS-RESUME-5): a cursor kept over a refused tombstone made the restarted device resume past
//!   the deletion and keep the note.

mod mem_store;
mod two_devices;

use automerge::ReadDoc;
use humansync_protocol::limits::SYNCED_INTERVAL_MS;
use humansync_protocol::{DocId, Message};
use humansync_sansio::{ConnId, Instant};

use two_devices::{Device, doc, session, settle};

/// The title of `d` as R's store holds it.
fn stored_title(r: &Device, d: &DocId) -> Option<String> {
    // Our own test bytes, not a peer's: the bounded loader is not needed here.
    #[allow(clippy::disallowed_methods)]
    let am = automerge::Automerge::load(r.store.get(d)?).expect("stored bytes load");
    let (value, _) = am.get(automerge::ROOT, "title").expect("read")?;
    Some(value.into_string().expect("a string"))
}

/// Space returns on R: R's own retries (resave) run until S reports it up to date.
fn space_returns(now: &mut u64, s: &mut Device, r: &mut Device, conn: ConnId) {
    r.disk_full = false;
    for _ in 0..10 {
        *now += 8_000;
        r.core.handle_timeout(Instant(*now));
        settle(now, s, r);
        if s.up_to_date(conn).0 {
            return;
        }
    }
    panic!(
        "S never reported R up to date after space returned: {:?}",
        s.up_to_date(conn)
    );
}

#[test]
fn a_doc_whole_is_held_only_once_stored() {
    // HS-SYNC-14, HS-SYNC-8
    let mut now = 1;
    let mut s = Device::new(3);
    let mut r = Device::new(2);
    let a = doc("a");
    s.edit(now, &a, "one");
    s.pump(now);

    r.disk_full = true;
    let conn = ConnId(1);
    session(&mut now, &mut s, &mut r, conn);
    assert!(r.core.digest(&a).is_some(), "R took the DocWhole in memory");
    assert!(!r.store.contains_key(&a), "but its store refused it");
    assert_eq!(r.held_count(conn), 0, "R counts nothing held");
    assert_eq!(s.up_to_date(conn), (false, 1), "S must not report R up to date");

    space_returns(&mut now, &mut s, &mut r, conn);
    assert_eq!(r.held_count(conn), 1);
    assert_eq!(stored_title(&r, &a).as_deref(), Some("one"));
    assert!(s.closed.is_empty() && r.closed.is_empty());
}

#[test]
fn doc_changes_are_held_only_once_stored() {
    // HS-SYNC-14, HS-SYNC-8: the soak's case — live changes merged while the disk is full.
    let mut now = 1;
    let mut s = Device::new(3);
    let mut r = Device::new(2);
    let a = doc("a");
    s.edit(now, &a, "one");
    s.pump(now);
    let conn = ConnId(1);
    session(&mut now, &mut s, &mut r, conn);
    assert_eq!(s.up_to_date(conn), (true, 0));
    assert_eq!(stored_title(&r, &a).as_deref(), Some("one"));
    let before = r.held_count(conn);

    r.disk_full = true;
    for title in ["two", "three", "four", "five"] {
        s.edit(now, &a, title);
        settle(&mut now, &mut s, &mut r);
    }
    let sent_changes = s
        .messages
        .iter()
        .filter(|(c, m)| *c == conn && matches!(m, Message::DocChanges { .. }))
        .count();
    assert!(sent_changes >= 1, "S pushed its edits as DocChanges");
    assert_eq!(
        r.held_count(conn),
        before,
        "nothing more held while R's disk is full"
    );
    assert_eq!(s.up_to_date(conn), (false, 1), "S must not report R up to date");
    assert_eq!(
        stored_title(&r, &a).as_deref(),
        Some("one"),
        "R's disk still holds the old title"
    );

    space_returns(&mut now, &mut s, &mut r, conn);
    assert!(r.held_count(conn) > before);
    assert_eq!(stored_title(&r, &a).as_deref(), Some("five"), "durable at R");
    assert!(s.closed.is_empty() && r.closed.is_empty());
}

#[test]
fn a_synced_cursor_is_kept_only_once_refused_writes_are_taken() {
    // HS-RESUME-5, HS-SYNC-8
    let mut now = 1;
    let mut s = Device::with_log(3);
    let mut r = Device::with_log(2);
    let (a, b) = (doc("a"), doc("b"));
    s.edit(now, &a, "one");
    s.edit(now, &b, "one");
    s.pump(now);
    let conn = ConnId(1);
    session(&mut now, &mut s, &mut r, conn);
    now += SYNCED_INTERVAL_MS;
    s.core.handle_timeout(Instant(now));
    settle(&mut now, &mut s, &mut r);
    assert!(
        r.cursors_saved >= 1,
        "R keeps S's cursor once everything is durable"
    );

    // S deletes a; R's store refuses the tombstone.
    let kept = r.cursors_saved;
    r.disk_full = true;
    s.core.delete(Instant(now), &a).expect("delete");
    settle(&mut now, &mut s, &mut r);
    assert_eq!(
        r.core.digest(&a),
        Some(humansync_protocol::DocDigest::TOMBSTONE),
        "R took the deletion in memory"
    );
    // Time passes: S's Synced goes out, R asks its store for the refused writes again (refused
    // again: nothing is in flight at R when each answer comes).
    for _ in 0..3 {
        now += 8_000;
        s.core.handle_timeout(Instant(now));
        r.core.handle_timeout(Instant(now));
        settle(&mut now, &mut s, &mut r);
    }
    assert!(
        s.messages
            .iter()
            .any(|(c, m)| *c == conn && matches!(m, Message::Synced { .. })),
        "S sent Synced"
    );
    assert_eq!(
        r.cursors_saved, kept,
        "R must not keep a cursor past a deletion its disk refused"
    );
    assert!(r.store.contains_key(&a), "R's disk still holds a");

    space_returns(&mut now, &mut s, &mut r, conn);
    for _ in 0..3 {
        now += SYNCED_INTERVAL_MS;
        s.core.handle_timeout(Instant(now));
        r.core.handle_timeout(Instant(now));
        settle(&mut now, &mut s, &mut r);
    }
    assert!(!r.store.contains_key(&a), "the tombstone is durable at R");
    assert_eq!(stored_title(&r, &b).as_deref(), Some("one"));
    assert!(r.cursors_saved > kept, "and S's cursor is kept again");
}
