//! One `Core` driven by hand-made bytes: handshake, gating, close codes (SPEC.md §2–§3).

use ed25519_dalek::SigningKey;
use humansync_protocol::limits::{HANDSHAKE_TIMEOUT_MS, MAX_FRAME_LEN};
use humansync_protocol::{
    CloseCode, DeviceId, DocDigest, DocId, Fingerprint, FrameDecoder, Message, RegistryRecord, SetSummary,
    encode_frame,
};
use humansync_sansio::gate::Admission;
use humansync_sansio::{ConnId, Core, CoreConfig, Event, Instant, Output, Role, Startup};

struct Fixture {
    core: Core,
    server: SigningKey,
    peer: DeviceId,
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A device core that admits `peer` (registered by the server) and knows nothing else.
fn fixture() -> Fixture {
    let server = key(1);
    let me = DeviceId::from(&key(2));
    let peer = DeviceId::from(&key(3));
    let config = CoreConfig::new(me, vec![2; 16], Some(DeviceId::from(&server)));
    let mut core = Core::new(Instant(0), config, Startup::default()).expect("core");
    for device in [me, peer] {
        let record = RegistryRecord::Device {
            device,
            name: "d".into(),
            paired_at_ms: 1,
        }
        .sign(&server)
        .expect("sign");
        core.add_registry_record(Instant(0), &record).expect("record");
    }
    drain(&mut core);
    Fixture { core, server, peer }
}

fn drain(core: &mut Core) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn transmitted(outputs: &[Output], conn: ConnId) -> Vec<Message> {
    let mut decoder = FrameDecoder::new();
    for out in outputs {
        if let Output::Transmit { conn: c, bytes } = out
            && *c == conn
        {
            decoder.push(bytes);
        }
    }
    std::iter::from_fn(|| decoder.next_message().expect("core sends valid frames")).collect()
}

fn closed_with(outputs: &[Output], conn: ConnId) -> Option<CloseCode> {
    outputs.iter().find_map(|o| match o {
        Output::Close { conn: c, code } if *c == conn => Some(*code),
        _ => None,
    })
}

fn hello(versions: Vec<u16>) -> Vec<u8> {
    encode_frame(&Message::Hello {
        versions,
        set: SetSummary {
            count: 0,
            fingerprint: Fingerprint::EMPTY,
        },
        devices: DocDigest::default(),
    })
    .expect("frame")
}

fn accept(f: &mut Fixture) -> ConnId {
    let conn = ConnId(1);
    assert_eq!(
        f.core.handle_connection(Instant(1), conn, f.peer, Role::Acceptor),
        Admission::Admit
    );
    assert!(
        drain(&mut f.core).is_empty(),
        "HS-VER-3: the acceptor sends nothing before Hello"
    );
    conn
}

#[test]
fn unregistered_and_revoked_peers_get_nothing() {
    // HS-GATE-2, HS-GATE-3, HS-GATE-6 (never dial a peer admit rejects)
    let mut f = fixture();
    let stranger = DeviceId::from(&key(9));
    let verdict = f
        .core
        .handle_connection(Instant(1), ConnId(7), stranger, Role::Acceptor);
    assert_eq!(verdict, Admission::Reject(CloseCode::NOT_REGISTERED));
    assert!(
        drain(&mut f.core).is_empty(),
        "zero outputs for an unregistered peer"
    );
    let verdict = f
        .core
        .handle_connection(Instant(1), ConnId(8), stranger, Role::Dialer);
    assert_eq!(
        verdict,
        Admission::Reject(CloseCode::NOT_REGISTERED),
        "no Hello to an unregistered peer"
    );
    assert!(drain(&mut f.core).is_empty());
    f.core.handle_bytes(Instant(2), ConnId(7), &hello(vec![1]));
    assert!(
        drain(&mut f.core).is_empty(),
        "bytes on a refused connection are ignored"
    );

    let revoke = RegistryRecord::Revoked {
        device: f.peer,
        revoked_at_ms: 5,
    }
    .sign(&f.server)
    .expect("sign");
    f.core.add_registry_record(Instant(3), &revoke).expect("record");
    drain(&mut f.core);
    let verdict = f
        .core
        .handle_connection(Instant(4), ConnId(9), f.peer, Role::Acceptor);
    assert_eq!(verdict, Admission::Reject(CloseCode::REVOKED));
    assert!(drain(&mut f.core).is_empty());
}

#[test]
fn valid_hello_gets_welcome_with_the_set_summary() {
    // HS-VER-1, HS-VER-2, HS-RECON-1
    let mut f = fixture();
    let conn = accept(&mut f);
    f.core.handle_bytes(Instant(2), conn, &hello(vec![1, 7]));
    let out = drain(&mut f.core);
    let msgs = transmitted(&out, conn);
    assert!(
        matches!(&msgs[0], Message::Welcome { version: 1, set, .. } if set.count == 0),
        "{msgs:?}"
    );
    assert_eq!(closed_with(&out, conn), None);
}

#[test]
fn handshake_violations_close_with_their_codes() {
    let cases: Vec<(&str, Vec<u8>, CloseCode)> = vec![
        // HS-VER-3: nothing but Hello first.
        (
            "message before Hello",
            encode_frame(&Message::DocWant { docs: vec![] }).expect("frame"),
            CloseCode::PROTOCOL,
        ),
        // HS-VER-2
        (
            "no common version",
            hello(vec![4, 5]),
            CloseCode::UNSUPPORTED_VERSION,
        ),
        // HS-FRAME-2: decided from the 4-byte header alone.
        (
            "oversized frame",
            (MAX_FRAME_LEN + 1).to_be_bytes().to_vec(),
            CloseCode::FRAME_TOO_LARGE,
        ),
        ("empty frame", vec![0, 0, 0, 0], CloseCode::MALFORMED),
        // HS-FRAME-3
        ("unknown variant", vec![0, 0, 0, 1, 11], CloseCode::MALFORMED),
        (
            "trailing bytes",
            [hello(vec![1]), vec![]]
                .concat()
                .into_iter()
                .chain([0])
                .collect::<Vec<u8>>(),
            CloseCode::MALFORMED,
        ),
    ];
    for (name, bytes, code) in cases {
        let mut f = fixture();
        let conn = accept(&mut f);
        let bytes = if name == "trailing bytes" {
            // Same frame, length bumped by one to swallow an extra payload byte.
            let mut b = bytes;
            let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) + 1;
            b[..4].copy_from_slice(&len.to_be_bytes());
            b
        } else {
            bytes
        };
        f.core.handle_bytes(Instant(2), conn, &bytes);
        let out = drain(&mut f.core);
        assert_eq!(closed_with(&out, conn), Some(code), "{name}");
        let msgs = transmitted(&out, conn);
        assert!(
            matches!(msgs.last(), Some(Message::Close { code: c, .. }) if *c == code),
            "{name}: {msgs:?}"
        );
        // After a close nothing more is processed.
        f.core.handle_bytes(Instant(3), conn, &hello(vec![1]));
        assert!(drain(&mut f.core).is_empty(), "{name}");
    }
}

#[test]
fn hello_deadline_closes_with_timeout() {
    // HS-VER-3
    let mut f = fixture();
    let conn = accept(&mut f);
    let deadline = f.core.poll_timeout().expect("a handshake deadline");
    assert_eq!(deadline, Instant(1 + HANDSHAKE_TIMEOUT_MS));
    f.core.handle_timeout(Instant(deadline.0 - 1));
    assert!(drain(&mut f.core).is_empty());
    f.core.handle_timeout(deadline);
    assert_eq!(closed_with(&drain(&mut f.core), conn), Some(CloseCode::TIMEOUT));
}

#[test]
fn second_hello_and_registry_deletion_are_protocol_errors() {
    // HS-VER-3, HS-REG-7
    for second in [
        hello(vec![1]),
        encode_frame(&Message::DocDeleted {
            doc: DocId::devices(),
        })
        .expect("frame"),
    ] {
        let mut f = fixture();
        let conn = accept(&mut f);
        f.core.handle_bytes(Instant(2), conn, &hello(vec![1]));
        drain(&mut f.core);
        f.core.handle_bytes(Instant(3), conn, &second);
        assert_eq!(closed_with(&drain(&mut f.core), conn), Some(CloseCode::PROTOCOL));
    }
}

#[test]
fn revocation_learned_mid_session_disconnects_at_once() {
    // HS-GATE-4: close every connection of the revoked device and drop what is queued for it.
    let mut f = fixture();
    let conn = accept(&mut f);
    f.core.handle_bytes(Instant(2), conn, &hello(vec![1]));
    drain(&mut f.core);
    // Queue something for the peer, then revoke before the runtime drains it.
    let doc = DocId::new("notes/a").expect("id");
    f.core.open(Instant(3), &doc, true).expect("open");
    f.core
        .change(Instant(3), &doc, |am| {
            use automerge::transaction::Transactable;
            am.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "k", "v").map(|_| ()))
                .is_ok()
        })
        .expect("change");
    let revoke = RegistryRecord::Revoked {
        device: f.peer,
        revoked_at_ms: 5,
    }
    .sign(&f.server)
    .expect("sign");
    f.core.add_registry_record(Instant(4), &revoke).expect("record");
    let out = drain(&mut f.core);
    assert!(
        out.iter().any(|o| matches!(o, Output::DisconnectPeer { peer, code } if *peer == f.peer && *code == CloseCode::REVOKED)),
        "{out:?}"
    );
    assert!(
        transmitted(&out, conn).is_empty(),
        "queued bytes for a revoked peer are discarded"
    );
    assert!(f.core.status().peers.is_empty());
}

fn welcome(version: u16) -> Vec<u8> {
    encode_frame(&Message::Welcome {
        version,
        set: SetSummary {
            count: 0,
            fingerprint: Fingerprint::EMPTY,
        },
        devices: DocDigest::default(),
    })
    .expect("frame")
}

#[test]
fn dialer_side_handshake_rules() {
    // HS-VER-5: no Welcome in time.
    let mut f = fixture();
    let conn = ConnId(2);
    assert_eq!(
        f.core.handle_connection(Instant(0), conn, f.peer, Role::Dialer),
        Admission::Admit
    );
    let out = drain(&mut f.core);
    assert!(
        matches!(transmitted(&out, conn).first(), Some(Message::Hello { versions, .. }) if versions == &vec![1, 2, 3])
    );
    f.core.handle_timeout(Instant(HANDSHAKE_TIMEOUT_MS));
    assert_eq!(closed_with(&drain(&mut f.core), conn), Some(CloseCode::TIMEOUT));

    // HS-VER-4: a Welcome choosing a version we did not offer.
    let mut f = fixture();
    f.core.handle_connection(Instant(0), conn, f.peer, Role::Dialer);
    drain(&mut f.core);
    f.core.handle_bytes(Instant(1), conn, &welcome(9));
    assert_eq!(closed_with(&drain(&mut f.core), conn), Some(CloseCode::PROTOCOL));
}

#[test]
fn unexpected_reconcile_is_a_protocol_error() {
    // HS-RECON-10: equal summaries (both empty) mean no reconciliation; a Reconcile is refused.
    let mut f = fixture();
    let conn = accept(&mut f);
    f.core.handle_bytes(Instant(2), conn, &hello(vec![1]));
    drain(&mut f.core);
    let ranges = vec![humansync_protocol::RangeEntry {
        upper: humansync_protocol::Bound::End,
        mode: humansync_protocol::RangeMode::Skip,
    }];
    f.core.handle_bytes(
        Instant(3),
        conn,
        &encode_frame(&Message::Reconcile { ranges }).expect("frame"),
    );
    assert_eq!(closed_with(&drain(&mut f.core), conn), Some(CloseCode::PROTOCOL));
}

#[test]
fn duplicate_sessions_keep_one_winner() {
    // HS-TRANSPORT-4: the same peer dials twice: it lost the older session (a restart, a
    // half-open connection), so the older is closed and the newer kept (soak: zombie_session).
    let mut f = fixture();
    for conn in [ConnId(1), ConnId(2)] {
        f.core.handle_connection(Instant(1), conn, f.peer, Role::Acceptor);
        f.core.handle_bytes(Instant(2), conn, &hello(vec![1]));
    }
    let out = drain(&mut f.core);
    assert_eq!(closed_with(&out, ConnId(1)), Some(CloseCode::DUPLICATE));
    assert_eq!(closed_with(&out, ConnId(2)), None);

    // HS-TRANSPORT-4: a session we dialled has been open for a while when the peer dials us:
    // the peer no longer has it, whatever the ids; the newer is kept.
    let mut f = fixture();
    f.core
        .handle_connection(Instant(1), ConnId(1), f.peer, Role::Dialer);
    f.core.handle_bytes(Instant(2), ConnId(1), &welcome(1));
    drain(&mut f.core);
    f.core
        .handle_connection(Instant(60_000), ConnId(2), f.peer, Role::Acceptor);
    f.core.handle_bytes(Instant(60_001), ConnId(2), &hello(vec![1]));
    let out = drain(&mut f.core);
    assert_eq!(closed_with(&out, ConnId(1)), Some(CloseCode::DUPLICATE));
    assert_eq!(closed_with(&out, ConnId(2)), None);

    // HS-TRANSPORT-3: crossed dials: both sides keep the session dialled by the lower id.
    let mut f = fixture();
    let me = f.core.me();
    f.core
        .handle_connection(Instant(1), ConnId(1), f.peer, Role::Dialer);
    f.core
        .handle_connection(Instant(1), ConnId(2), f.peer, Role::Acceptor);
    f.core.handle_bytes(Instant(2), ConnId(1), &welcome(1));
    f.core.handle_bytes(Instant(2), ConnId(2), &hello(vec![1]));
    let out = drain(&mut f.core);
    let (kept, closed) = if me < f.peer {
        (ConnId(1), ConnId(2))
    } else {
        (ConnId(2), ConnId(1))
    };
    assert_eq!(closed_with(&out, closed), Some(CloseCode::DUPLICATE));
    assert_eq!(closed_with(&out, kept), None);
}

#[test]
fn a_node_that_learns_it_is_revoked_closes_everything() {
    // HS-GATE-5
    let mut f = fixture();
    let conn = accept(&mut f);
    f.core.handle_bytes(Instant(2), conn, &hello(vec![1]));
    drain(&mut f.core);
    let me = f.core.me();
    let revoke = RegistryRecord::Revoked {
        device: me,
        revoked_at_ms: 5,
    }
    .sign(&f.server)
    .expect("sign");
    f.core.add_registry_record(Instant(3), &revoke).expect("record");
    let out = drain(&mut f.core);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::DisconnectPeer { code, .. } if *code == CloseCode::REVOKED))
    );
    assert!(f.core.status().peers.is_empty());
    assert_eq!(
        f.core
            .handle_connection(Instant(4), ConnId(5), f.peer, Role::Dialer),
        Admission::Reject(CloseCode::REVOKED),
        "and it stops dialling"
    );
}

#[test]
fn records_added_directly_report_device_added_and_revoked() {
    // HS-GATE-4: what the server's node does when it signs records; the events are how the
    // runtime (and the server's relay, HS-RELAY-2) learns of them.
    let mut f = fixture();
    let newcomer = DeviceId::from(&key(9));
    let events = |out: &[Output]| -> Vec<Event> {
        out.iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    };
    let added = RegistryRecord::Device {
        device: newcomer,
        name: "n".into(),
        paired_at_ms: 2,
    }
    .sign(&f.server)
    .expect("sign");
    f.core.add_registry_record(Instant(1), &added).expect("record");
    assert_eq!(events(&drain(&mut f.core)), vec![Event::DeviceAdded(newcomer)]);
    let revoked = RegistryRecord::Revoked {
        device: newcomer,
        revoked_at_ms: 3,
    }
    .sign(&f.server)
    .expect("sign");
    f.core.add_registry_record(Instant(2), &revoked).expect("record");
    assert_eq!(events(&drain(&mut f.core)), vec![Event::DeviceRevoked(newcomer)]);
    f.core.add_registry_record(Instant(3), &revoked).expect("again");
    assert!(
        events(&drain(&mut f.core)).is_empty(),
        "a known record changes nothing"
    );
}

#[test]
fn every_blob_want_is_answered_even_with_nothing_held() {
    // HS-BLOB-2: the receiver MUST answer every BlobWant with a BlobHave listing those of the
    // hashes it holds complete — possibly none, so the peer learns to ask elsewhere.
    let mut f = fixture();
    let conn = accept(&mut f);
    f.core.handle_bytes(Instant(2), conn, &hello(vec![1]));
    drain(&mut f.core);
    let want = encode_frame(&Message::BlobWant {
        hashes: vec![humansync_protocol::BlobHash([7; 32])],
    })
    .expect("frame");
    f.core.handle_bytes(Instant(3), conn, &want);
    let sent = transmitted(&drain(&mut f.core), conn);
    assert_eq!(sent, vec![Message::BlobHave { hashes: Vec::new() }]);
}
