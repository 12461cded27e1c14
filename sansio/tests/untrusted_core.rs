//! The core with hostile Automerge bytes from a registered peer (HS-SYNC-10, HS-SYNC-12,
//! HS-SYNC-13): refused bytes are neither stored nor forwarded, a hostile Bloom filter does not
//! panic, and a document that fails to load is not forwarded, not asked for in a loop, and not
//! handed to the app until a good copy loads.

mod mem_store;

use std::collections::BTreeMap;

use automerge::ROOT;
use automerge::transaction::Transactable;
use humansync_protocol::{
    CloseCode, DeviceId, DocId, Fingerprint, FrameDecoder, Message, SetSummary, encode_frame,
};
use humansync_sansio::testing::bombs;
use humansync_sansio::{
    ConnId, Core, CoreConfig, Event, Instant, IoAction, Output, QuarantineKind, Role, Startup,
};
use sha2::{Digest, Sha256};

const A: ConnId = ConnId(1);
const B: ConnId = ConnId(2);
const MIB: usize = 1 << 20;

use mem_store::key;

/// A device core with two open sessions: `A` (the attacker, key 3) and `B` (honest, key 4),
/// plus an in-memory store that answers its I/O.
struct World {
    core: Core,
    store: BTreeMap<DocId, Vec<u8>>,
    /// Every output so far.
    log: Vec<Output>,
    now: u64,
}

impl World {
    fn new() -> World {
        let server = key(1);
        let me = DeviceId::from(&key(2));
        let config = CoreConfig::new(me, vec![2; 16], Some(DeviceId::from(&server)));
        let mut core = Core::new(Instant(0), config, Startup::default()).expect("core");
        mem_store::register_devices(&mut core, &server, &[2, 3, 4]);
        let mut w = World {
            core,
            store: BTreeMap::new(),
            log: Vec::new(),
            now: 1,
        };
        for (conn, seed) in [(A, 3), (B, 4)] {
            w.core
                .handle_connection(Instant(1), conn, DeviceId::from(&key(seed)), Role::Acceptor);
            let hello = encode_frame(&Message::Hello {
                versions: vec![1],
                set: SetSummary {
                    count: 0,
                    fingerprint: Fingerprint::EMPTY,
                },
                devices: w.core.digest(&DocId::devices()).expect("devices digest"),
            })
            .expect("frame");
            w.core.handle_bytes(Instant(1), conn, &hello);
        }
        w.pump();
        w.log.clear();
        w
    }

    /// Drains outputs, answering I/O from the in-memory store, until none are left.
    fn pump(&mut self) {
        let now = Instant(self.now);
        while let Some(out) = self.core.poll_output() {
            if let Output::Io(task) = &out {
                let result = mem_store::answer(&mut self.store, &task.action);
                self.log.push(out.clone());
                self.core.handle_io_result(now, task.id, result);
            } else {
                self.log.push(out);
            }
        }
    }

    fn send(&mut self, conn: ConnId, msg: &Message) {
        let bytes = encode_frame(msg).expect("frame");
        self.core.handle_bytes(Instant(self.now), conn, &bytes);
        self.pump();
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.core.handle_timeout(Instant(self.now));
        self.pump();
    }

    fn sent_to(&self, conn: ConnId) -> Vec<Message> {
        let mut decoder = FrameDecoder::new();
        for out in &self.log {
            if let Output::Transmit { conn: c, bytes } = out
                && *c == conn
            {
                decoder.push(bytes);
            }
        }
        std::iter::from_fn(|| decoder.next_message().expect("valid frames")).collect()
    }

    fn saved(&self, doc: &DocId) -> usize {
        self.log
            .iter()
            .filter(|o| matches!(o, Output::Io(t) if matches!(&t.action, IoAction::SaveDoc { doc: d, write: Some(_), .. } if d == doc)))
            .count()
    }

    fn closed(&self, conn: ConnId) -> Option<CloseCode> {
        self.log.iter().find_map(|o| match o {
            Output::Close { conn: c, code } if *c == conn => Some(*code),
            _ => None,
        })
    }
}

fn doc(name: &str) -> DocId {
    DocId::new(format!("notes/{name}")).expect("id")
}

fn whole(doc: &DocId, bytes: Vec<u8>) -> Message {
    Message::DocWhole {
        doc: doc.clone(),
        heads: Vec::new(),
        blobs: Vec::new(),
        bytes,
    }
}

#[test]
fn bombs_in_doc_whole_are_neither_stored_nor_forwarded() {
    // HS-SYNC-12, HS-SYNC-13: 64 MiB behind a few KiB, valid checksums.
    for (name, bomb) in [
        ("change", bombs::compressed_change(64 * MIB, [9; 16])),
        ("column", bombs::deflated_column_document(64 * MIB)),
        ("rows", bombs::run_length_document(1 << 40)),
    ] {
        let mut w = World::new();
        let d = doc(name);
        w.send(A, &whole(&d, bomb));
        assert_eq!(w.saved(&d), 0, "{name}: stored");
        assert!(
            !w.sent_to(B).iter().any(|m| matches!(m, Message::DocWhole { .. })),
            "{name}: forwarded to B"
        );
        assert_eq!(w.closed(A), Some(CloseCode::PROTOCOL), "{name}");
        assert_eq!(w.closed(B), None, "{name}");
        assert!(
            w.log
                .iter()
                .any(|o| matches!(o, Output::Event(Event::DocRejected { doc, .. }) if *doc == d))
        );
        let status = w.core.status();
        let q = status.quarantined.iter().find(|q| q.doc == d).expect("reported");
        assert_eq!(q.kind, QuarantineKind::Rejected);
        assert!(q.peers.contains(&DeviceId::from(&key(3))));
    }
}

#[test]
fn bombs_in_sync_messages_are_refused() {
    // HS-SYNC-12: a sync message's changes, for a new and for a held document.
    for held in [false, true] {
        let mut w = World::new();
        let d = doc("s");
        if held {
            w.core.open(Instant(1), &d, true).expect("open");
            w.core
                .change(Instant(1), &d, |am| {
                    let mut tx = am.transaction();
                    tx.put(ROOT, "title", "mine").expect("put");
                    tx.commit();
                })
                .expect("change");
            w.pump();
            w.log.clear();
        }
        let message = bombs::sync_message(&[bombs::compressed_change(64 * MIB, [9; 16])]);
        w.send(
            A,
            &Message::DocSync {
                doc: d.clone(),
                message,
            },
        );
        assert_eq!(w.closed(A), Some(CloseCode::PROTOCOL), "held: {held}");
        assert!(
            !w.sent_to(B)
                .iter()
                .any(|m| matches!(m, Message::DocSync { doc, .. } if *doc == d) && !held)
        );
    }
}

#[test]
fn a_hostile_bloom_filter_does_not_panic() {
    // HS-SYNC-12: Automerge would divide by the filter's zero bits while answering.
    let mut w = World::new();
    let d = doc("b");
    w.core.open(Instant(1), &d, true).expect("open");
    w.core
        .change(Instant(1), &d, |am| {
            let mut tx = am.transaction();
            tx.put(ROOT, "title", "mine").expect("put");
            tx.commit();
        })
        .expect("change");
    w.pump();
    let message = bombs::sync_message_with_bloom(1, 0, 7, 0);
    w.send(A, &Message::DocSync { doc: d, message });
    assert_eq!(w.closed(A), Some(CloseCode::PROTOCOL));
}

/// A real save whose document chunk claims a head it does not have (checksum recomputed):
/// well-formed and bounded, so stored unparsed, but Automerge refuses to load it.
fn unloadable() -> (Vec<u8>, Vec<humansync_protocol::ChangeHash>) {
    let mut am = automerge::AutoCommit::new();
    am.put(ROOT, "title", "poison").expect("put");
    let mut bytes = am.save();
    let heads = am
        .get_heads()
        .iter()
        .map(|h| humansync_protocol::ChangeHash(h.0))
        .collect();
    // Header: magic 4, checksum 4, type 1, LEB128 length.
    let mut at = 9;
    while bytes[at] & 0x80 != 0 {
        at += 1;
    }
    let data = at + 1;
    let mut p = data;
    let actors = bytes[p] as usize; // small counts: one LEB128 byte each
    p += 1;
    for _ in 0..actors {
        let len = bytes[p] as usize;
        p += 1 + len;
    }
    assert_eq!(bytes[p], 1, "one head");
    bytes[p + 1] ^= 0xff;
    let digest = Sha256::digest(&bytes[8..]);
    bytes[4..8].copy_from_slice(&digest[..4]);
    #[allow(clippy::disallowed_methods)]
    let refused = automerge::Automerge::load(&bytes).is_err();
    assert!(refused, "automerge refuses the forged heads");
    (bytes, heads)
}

#[test]
fn a_document_that_fails_to_load_is_not_forwarded_nor_asked_for_in_a_loop() {
    // HS-SYNC-12, HS-SYNC-13
    let mut w = World::new();
    let d = doc("poison");
    let (bytes, heads) = unloadable();
    let poison = Message::DocWhole {
        doc: d.clone(),
        heads,
        blobs: Vec::new(),
        bytes,
    };
    w.send(A, &poison);
    assert_eq!(
        w.saved(&d),
        1,
        "bounded, well-formed bytes are stored unparsed (HS-SYNC-1)"
    );
    let is_poison = |m: &Message| matches!(m, Message::DocWhole { doc, .. } if *doc == d);
    assert!(
        !w.sent_to(B).iter().any(is_poison),
        "never forwarded without a parse"
    );
    assert!(
        w.log
            .iter()
            .any(|o| matches!(o, Output::Event(Event::DocCorrupt { doc, .. }) if *doc == d))
    );
    let q = w.core.status().quarantined;
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].kind, QuarantineKind::LoadFailed);

    // The same bytes from the same peer, again and again: dropped unparsed, never stored.
    for _ in 0..5 {
        w.send(A, &poison);
        w.advance(600);
    }
    assert_eq!(w.saved(&d), 1, "stored once");
    let wants = |msgs: Vec<Message>| {
        msgs.iter()
            .filter(|m| matches!(m, Message::DocWant { docs } if docs.contains(&d)))
            .count()
    };
    assert_eq!(
        wants(w.sent_to(A)),
        0,
        "never asked again from the peer that sent it"
    );
    assert_eq!(
        wants(w.sent_to(B)),
        1,
        "asked once from another peer, after the backoff"
    );
    w.send(B, &Message::DocMissing { doc: d.clone() });
    w.advance(3_600_000);
    assert_eq!(wants(w.sent_to(B)), 1, "no loop");
    assert!(w.closed(A).is_none() && w.closed(B).is_none());
}

fn blob(i: u32) -> humansync_protocol::BlobHash {
    humansync_protocol::BlobHash(*blake3::hash(&i.to_le_bytes()).as_bytes())
}

#[test]
fn blob_claims_are_bounded_by_what_is_referenced() {
    // Issue 16 §3: a peer announcing hashes no document references is not remembered.
    let mut w = World::new();
    for round in 0..10u32 {
        let hashes = (0..1024).map(|i| blob(round * 1024 + i)).collect();
        w.send(A, &Message::BlobHave { hashes });
    }
    let status = w.core.status();
    let a = status.peers.iter().find(|p| p.conn == A).expect("A");
    assert_eq!(a.blobs_claimed, 0, "unreferenced claims remembered");
}

#[test]
fn blob_lists_of_whole_documents_are_checked_against_their_content() {
    // Issue 16 §3, HS-BLOB-1: a DocWhole's `blobs` list seeds the want-list only with hashes the
    // document really references.
    let mut w = World::new();
    let real = blob(1);
    let mut am = automerge::AutoCommit::new();
    am.put(ROOT, "file", real.to_reference()).expect("put");
    let heads = am
        .get_heads()
        .iter()
        .map(|h| humansync_protocol::ChangeHash(h.0))
        .collect();
    let d = doc("attached");
    let claimed: Vec<_> = std::iter::once(real).chain((2..200).map(blob)).collect();
    w.send(
        A,
        &Message::DocWhole {
            doc: d.clone(),
            heads,
            blobs: claimed,
            bytes: am.save(),
        },
    );
    assert_eq!(
        w.core.missing_blobs(),
        vec![real],
        "only the referenced blob is wanted"
    );
    let wanted: Vec<_> = w
        .sent_to(B)
        .into_iter()
        .filter_map(|m| match m {
            Message::BlobWant { hashes } => Some(hashes),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(wanted, vec![real], "BlobWant carries only referenced hashes");
}

/// What an app read of `d` is answered, and the title it saw if it ran.
fn app_read(w: &mut World, id: u64, d: &DocId) -> (Result<(), humansync_sansio::CoreError>, Option<String>) {
    use automerge::ReadDoc;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let into = seen.clone();
    let read = humansync_sansio::AppRequest::Read {
        doc: d.clone(),
        f: Box::new(move |am: &automerge::Automerge| {
            let title = am
                .get(ROOT, "title")
                .ok()
                .flatten()
                .and_then(|(v, _)| v.into_string().ok());
            *into.lock().expect("lock") = Some(title.unwrap_or_default());
        }),
    };
    let id = humansync_sansio::AppRequestId(id);
    w.core.handle_app_request(Instant(w.now), id, read);
    w.pump();
    let result = w
        .log
        .iter()
        .find_map(|o| match o {
            Output::AppDone { id: i, result } if *i == id => Some(result.clone()),
            _ => None,
        })
        .expect("answered");
    let title = seen.lock().expect("lock").clone();
    (result, title)
}

#[test]
fn a_quarantined_document_is_refused_to_the_app_until_a_good_copy_loads() {
    // HS-SYNC-13: no empty stand-in while the document is recovered from other peers.
    let mut w = World::new();
    let d = doc("poison");
    let (bytes, heads) = unloadable();
    w.send(
        A,
        &Message::DocWhole {
            doc: d.clone(),
            heads,
            blobs: Vec::new(),
            bytes,
        },
    );
    assert_eq!(w.core.status().quarantined.len(), 1);
    let refused = Err(humansync_sansio::CoreError::Quarantined(d.clone()));
    assert_eq!(app_read(&mut w, 1, &d), (refused, None));

    // A good copy from another peer: stored, loaded for the read, and the read runs on it.
    let mut am = automerge::AutoCommit::new();
    am.put(ROOT, "title", "good").expect("put");
    let mut heads: Vec<_> = am
        .get_heads()
        .iter()
        .map(|h| humansync_protocol::ChangeHash(h.0))
        .collect();
    heads.sort_unstable();
    w.send(
        B,
        &Message::DocWhole {
            doc: d.clone(),
            heads,
            blobs: Vec::new(),
            bytes: am.save(),
        },
    );
    assert_eq!(app_read(&mut w, 2, &d), (Ok(()), Some("good".to_owned())));
    assert!(w.core.status().quarantined.is_empty(), "recovered");
}
