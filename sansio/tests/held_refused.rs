//! A DocWhole the receiver refuses under HS-SYNC-13 on a version-3 session: the cumulative
//! `Held` covers it (it cannot skip a number) but lists it as refused, so the sender keeps the
//! document outstanding and never reports the peer up to date for it (HS-SYNC-14, HS-SYNC-7),
//! as version 2 did by never acknowledging it. The other documents the same `Held` covers are
//! delivered.

mod mem_store;

use std::collections::BTreeMap;

use automerge::ROOT;
use automerge::transaction::Transactable;
use humansync_protocol::{CloseCode, DeviceId, DocId, FrameDecoder, Message};
use humansync_sansio::{ConnId, Core, CoreConfig, Instant, Output, QuarantineKind, Role, Startup};

use mem_store::key;

fn doc(name: &str) -> DocId {
    DocId::new(format!("notes/{name}")).expect("id")
}

/// One device: its core, its disk, and every message it sent on each connection.
struct Device {
    core: Core,
    store: BTreeMap<DocId, Vec<u8>>,
    sent: BTreeMap<ConnId, FrameDecoder>,
    messages: Vec<(ConnId, Message)>,
    closed: Vec<(ConnId, CloseCode)>,
}

impl Device {
    fn new(seed: u8) -> Device {
        let server = key(1);
        let config = CoreConfig::new(
            DeviceId::from(&key(seed)),
            vec![seed; 16],
            Some(DeviceId::from(&server)),
        );
        let mut core = Core::new(Instant(0), config, Startup::default()).expect("core");
        mem_store::register_devices(&mut core, &server, &[2, 3]);
        Device {
            core,
            store: BTreeMap::new(),
            sent: BTreeMap::new(),
            messages: Vec::new(),
            closed: Vec::new(),
        }
    }

    fn edit(&mut self, now: u64, d: &DocId, title: &str) {
        self.core.open(Instant(now), d, true).expect("open");
        self.core
            .change(Instant(now), d, |am| {
                let mut tx = am.transaction();
                tx.put(ROOT, "title", title).expect("put");
                tx.commit();
            })
            .expect("change");
    }

    /// Drains outputs, answering disk tasks from the store; returns the bytes to transmit.
    fn pump(&mut self, now: u64) -> Vec<(ConnId, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(o) = self.core.poll_output() {
            match o {
                Output::Io(task) => {
                    let result = mem_store::answer(&mut self.store, &task.action);
                    self.core.handle_io_result(Instant(now), task.id, result);
                }
                Output::Transmit { conn, bytes } => {
                    let decoder = self.sent.entry(conn).or_default();
                    decoder.push(&bytes);
                    while let Some(m) = decoder.next_message().expect("valid frames") {
                        self.messages.push((conn, m));
                    }
                    out.push((conn, bytes));
                }
                Output::Close { conn, code } => self.closed.push((conn, code)),
                _ => {}
            }
        }
        out
    }

    fn up_to_date(&self, conn: ConnId) -> (bool, usize) {
        let status = self.core.status();
        let p = status.peers.iter().find(|p| p.conn == conn).expect("session");
        (p.up_to_date, p.outstanding)
    }
}

/// Connects `s` (dialer) and `r` (acceptor) on `conn` and moves bytes both ways until neither
/// sends anything.
fn session(now: &mut u64, s: &mut Device, r: &mut Device, conn: ConnId) {
    s.core
        .handle_connection(Instant(*now), conn, r.core.me(), Role::Dialer);
    r.core
        .handle_connection(Instant(*now), conn, s.core.me(), Role::Acceptor);
    settle(now, s, r);
}

fn settle(now: &mut u64, s: &mut Device, r: &mut Device) {
    for _ in 0..100 {
        *now += 1;
        let from_s = s.pump(*now);
        let from_r = r.pump(*now);
        if from_s.is_empty() && from_r.is_empty() {
            return;
        }
        for (conn, bytes) in from_s {
            r.core.handle_bytes(Instant(*now), conn, &bytes);
        }
        for (conn, bytes) in from_r {
            s.core.handle_bytes(Instant(*now), conn, &bytes);
        }
    }
    panic!("did not settle");
}

fn close(now: u64, s: &mut Device, r: &mut Device, conn: ConnId) {
    s.core
        .handle_connection_closed(Instant(now), conn, CloseCode::NORMAL);
    r.core
        .handle_connection_closed(Instant(now), conn, CloseCode::NORMAL);
    s.pump(now);
    r.pump(now);
}

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
