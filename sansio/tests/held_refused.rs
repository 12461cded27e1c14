//! A DocWhole the receiver refuses under HS-SYNC-13 on a version-3 session: the cumulative
//! `Held` covers it (it cannot skip a number) but lists it as refused, so the sender keeps the
//! document outstanding and never reports the peer up to date for it (HS-SYNC-14, HS-SYNC-7),
//! as version 2 did by never acknowledging it. The other documents the same `Held` covers are
//! delivered.

mod mem_store;
mod two_devices;

use humansync_protocol::{CloseCode, DocId, Message};
use humansync_sansio::{ConnId, Instant, QuarantineKind};

use two_devices::{Device, close, doc, session};

#[test]
fn a_doc_whole_refused_under_quarantine_is_not_reported_held() {
    // HS-SYNC-14, HS-SYNC-13, HS-SYNC-7
    let mut now = 1;
    let mut s = Device::new(3);
    let mut r = Device::new(2);
    let poisoned = doc("poisoned");
    s.edit(now, &poisoned, "one");
    s.pump(now);

    // Session 1: S sends the document whole; R stores it unparsed (HS-SYNC-1).
    let first = ConnId(1);
    session(&mut now, &mut s, &mut r, first);
    assert!(r.core.digest(&poisoned).is_some(), "stored at R");
    assert!(r.core.doc(&poisoned).is_none(), "not loaded at R");
    close(now, &mut s, &mut r, first);

    // R's stored copy from S does not load: quarantined, S blamed for its digest (HS-SYNC-13).
    let stored = r.store.get_mut(&poisoned).expect("on R's disk");
    let last = stored.len() - 1;
    stored[last] ^= 0xff;
    r.core.open(Instant(now), &poisoned, false).expect("open");
    r.pump(now);
    let q = r.core.status().quarantined;
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].kind, QuarantineKind::LoadFailed);
    assert!(r.core.digest(&poisoned).is_none(), "dropped at R");

    // Two more documents at S; session 2 sends all three whole, on a version-3 session.
    let others = [doc("a"), doc("b")];
    for d in &others {
        s.edit(now, d, "two");
    }
    s.pump(now);
    let second = ConnId(2);
    r.messages.clear();
    session(&mut now, &mut s, &mut r, second);

    let wholes: Vec<DocId> = s
        .messages
        .iter()
        .filter(|(c, _)| *c == second)
        .filter_map(|(_, m)| match m {
            Message::DocWhole { doc, .. } => Some(doc.clone()),
            _ => None,
        })
        .collect();
    assert!(
        wholes.contains(&poisoned),
        "S sent the document again: {wholes:?}"
    );
    for d in &others {
        assert!(r.core.digest(d).is_some(), "{d} stored at R");
    }
    assert!(
        r.core.digest(&poisoned).is_none(),
        "refused unparsed from the peer whose copy failed (HS-SYNC-13)"
    );
    let helds: Vec<&Message> = r
        .messages
        .iter()
        .filter(|(c, m)| *c == second && matches!(m, Message::Held { .. }))
        .map(|(_, m)| m)
        .collect();
    let number = wholes.iter().position(|d| *d == poisoned).expect("sent") as u64 + 1;
    assert!(
        helds
            .iter()
            .any(|m| matches!(m, Message::Held { refused, .. } if *refused == [number])),
        "R lists DocWhole #{number} as refused: {helds:?}"
    );

    // S must not claim R holds the refused document; nothing else is outstanding.
    assert_eq!(
        s.up_to_date(second),
        (false, 1),
        "S reports R up to date though R dropped {poisoned}; R sent {helds:?}"
    );
    assert!(s.closed.is_empty() && r.closed.is_empty());

    // A refused number a previous Held already covered is a peer fault (HS-SYNC-14).
    let bad = humansync_protocol::encode_frame(&Message::Held {
        count: 3,
        refused: vec![2],
    })
    .expect("frame");
    s.core.handle_bytes(Instant(now), second, &bad);
    s.pump(now);
    assert_eq!(s.closed, vec![(second, CloseCode::PROTOCOL)]);
}
