//! transcripts.json: recorded runs of one reference acceptor core — inputs
//! (connections, bytes, timer ticks) and what it sent and how it closed
//! (HS-GATE-2, HS-GATE-3, HS-GATE-5, HS-VER-1..3, HS-FRAME-2, HS-FRAME-3, HS-RECON-1, HS-REG-6, HS-REG-7).

use humansync_protocol::digest::heads_digest;
use humansync_protocol::limits::{HANDSHAKE_TIMEOUT_MS, MAX_FRAME_LEN};
use humansync_protocol::{
    Bound, DocDigest, DocId, Fingerprint, Item, Message, RangeEntry, RangeMode, RegistryRecord, SetSummary,
    encode_frame,
};
use humansync_sansio::recon::DocSet;
use serde_json::json;

use super::registry::signed;
use super::{Cases, doc};
use crate::check::transcript::run;
use crate::driver::{Setup, Step};
use crate::format::{Case, Expect};
use crate::keys;

pub(crate) const DESCRIPTION: &str = "Transcripts of one acceptor (the reference core): `setup` says who it is \
(`me`, and `actor`, the Automerge actor of its own _devices changes), whom it trusts (`anchor`), the signed \
`records` it holds and the documents it has (id and heads); `steps` are inputs at times `at_ms`. \
`expected.steps[i]` is what step i caused: the admission verdict (connect steps), the messages sent, \
the close code applied (null: none). A Close message sent just before closing is optional and not listed. \
The Welcome `devices` digest and _devices DocSync payloads depend on the reference core's own _devices \
history. Every setup states `epoch`, the change-log epoch the acceptor runs with (HS-RESUME-1; \
a runtime draws one per start), and `devices_digest`, the heads digest of the acceptor's own \
_devices with `records` in: what its Welcome announces. An implementation whose _devices history \
differs (any but the reference) runs each case with its own digest in place of `devices_digest` \
wherever those 16 bytes appear in a step's bytes or an expected frame, and compares a _devices \
DocSync by its `doc` only, not its `message` bytes.";

fn frame(msg: &Message) -> Vec<u8> {
    // Transcript inputs are small and within every limit.
    encode_frame(msg).unwrap_or_default()
}

fn setup_server() -> Setup {
    let me = keys::id("server");
    let d = |name: &str| RegistryRecord::Device {
        device: keys::id(name),
        name: name.to_owned(),
        paired_at_ms: 1_700_000_000_000,
    };
    let revoked = RegistryRecord::Revoked {
        device: keys::id("d2"),
        revoked_at_ms: 1_700_000_000_001,
    };
    Setup {
        me,
        actor: me.as_bytes()[..16].to_vec(),
        anchor: Some(me),
        records: vec![
            signed(&d("d1"), "server"),
            signed(&d("d2"), "server"),
            signed(&revoked, "server"),
        ],
        docs: vec![
            (doc("notes/a"), vec![keys::change("a1")]),
            (doc("notes/b"), vec![keys::change("b1"), keys::change("b2")]),
        ],
        epoch: crate::driver::LOG_EPOCH,
        devices_digest: None,
    }
}

/// `setup` with its `devices_digest` stated (every vector states it, HS-REG-6).
fn stated(mut setup: Setup) -> Setup {
    // A core that fails to start fails every case built on this setup at generation.
    setup.devices_digest = crate::driver::devices_digest(&setup).ok();
    setup
}

fn summary(setup: &Setup) -> SetSummary {
    let set: DocSet = setup
        .docs
        .iter()
        .map(|(d, h)| (d.clone(), heads_digest(h)))
        .collect();
    set.summary()
}

fn devices_digest(setup: &Setup) -> DocDigest {
    setup.devices_digest.unwrap_or_default()
}

fn hello(versions: Vec<u16>, set: SetSummary, devices: DocDigest) -> Vec<u8> {
    frame(&Message::Hello {
        versions,
        set,
        devices,
    })
}

fn connect(at_ms: u64, peer: &str) -> Step {
    Step::Connect {
        at_ms,
        conn: 1,
        peer: keys::id(peer),
    }
}

fn recv(at_ms: u64, bytes: Vec<u8>) -> Step {
    Step::Receive {
        at_ms,
        conn: 1,
        bytes,
    }
}

fn push(c: &mut Cases, reqs: &[&str], what: &str, setup: &Setup, steps: Vec<Step>) {
    let expected = run(setup, &steps).unwrap_or_else(|e| json!({ "generator_error": e }));
    c.push(
        Case::new(String::new(), "acceptor_transcript", reqs, what, Expect::Valid)
            .with("setup", setup.to_json())
            .with("steps", steps.iter().map(Step::to_json).collect::<Vec<_>>())
            .expect(expected),
    );
}

/// Every transcripts.json case.
pub(crate) fn cases() -> Cases {
    let mut c = Cases::new("tx");
    let s = stated(setup_server());
    let ours = summary(&s);
    let devices = devices_digest(&s);
    let good_hello = hello(vec![1], ours, devices);
    let empty = SetSummary {
        count: 0,
        fingerprint: Fingerprint::EMPTY,
    };

    let gate = &["HS-GATE-2", "HS-GATE-3", "HS-CLOSE-2"];
    let steps = vec![connect(0, "stranger"), recv(1, good_hello.clone())];
    push(
        &mut c,
        gate,
        "an unregistered peer is refused with NOT_REGISTERED; nothing it sends is processed",
        &s,
        steps,
    );
    push(
        &mut c,
        gate,
        "a revoked peer is refused with REVOKED",
        &s,
        vec![connect(0, "d2"), recv(1, good_hello.clone())],
    );
    push(
        &mut c,
        gate,
        "the node itself (no loopback sessions) is refused",
        &s,
        vec![connect(0, "server")],
    );

    let v = &["HS-VER-1", "HS-VER-2", "HS-RECON-1"];
    push(
        &mut c,
        v,
        "a registered peer's Hello with equal summaries gets Welcome and nothing more",
        &s,
        vec![connect(0, "d1"), recv(5, good_hello.clone())],
    );
    let both = hello(vec![1, 7], ours, devices);
    push(
        &mut c,
        v,
        "Hello listing versions 1 and 7: Welcome selects 1",
        &s,
        vec![connect(0, "d1"), recv(5, both)],
    );
    let split = good_hello.clone();
    let (head, tail) = split.split_at(3);
    push(
        &mut c,
        &["HS-FRAME-1", "HS-VER-2"],
        "a Hello split across two reads is answered once it is whole",
        &s,
        vec![connect(0, "d1"), recv(5, head.to_vec()), recv(6, tail.to_vec())],
    );
    push(
        &mut c,
        &["HS-VER-2"],
        "Hello with no version in common closes with UNSUPPORTED_VERSION",
        &s,
        vec![connect(0, "d1"), recv(5, hello(vec![4, 5], ours, devices))],
    );

    let v3 = &["HS-VER-3"];
    let want = frame(&Message::DocWant {
        docs: vec![doc("notes/a")],
    });
    push(
        &mut c,
        v3,
        "a message before Hello closes with PROTOCOL",
        &s,
        vec![connect(0, "d1"), recv(5, want)],
    );
    let welcome = frame(&Message::Welcome {
        version: 1,
        set: ours,
        devices,
    });
    push(
        &mut c,
        v3,
        "a Welcome sent to the acceptor closes with PROTOCOL",
        &s,
        vec![connect(0, "d1"), recv(5, welcome)],
    );
    push(
        &mut c,
        v3,
        "a second Hello closes with PROTOCOL",
        &s,
        vec![
            connect(0, "d1"),
            recv(5, good_hello.clone()),
            recv(9, good_hello.clone()),
        ],
    );
    let steps = vec![
        connect(0, "d1"),
        Step::Timeout {
            at_ms: HANDSHAKE_TIMEOUT_MS - 1,
        },
        Step::Timeout {
            at_ms: HANDSHAKE_TIMEOUT_MS,
        },
    ];
    push(
        &mut c,
        v3,
        "no Hello within HANDSHAKE_TIMEOUT closes with TIMEOUT (not a millisecond before)",
        &s,
        steps,
    );

    let f = &["HS-FRAME-2", "HS-FRAME-3"];
    push(
        &mut c,
        f,
        "a malformed frame (unknown variant 15) closes with MALFORMED",
        &s,
        vec![connect(0, "d1"), recv(5, vec![0, 0, 0, 1, 15])],
    );
    push(
        &mut c,
        f,
        "a zero-length frame closes with MALFORMED",
        &s,
        vec![connect(0, "d1"), recv(5, vec![0, 0, 0, 0])],
    );
    let big = (MAX_FRAME_LEN + 1).to_be_bytes().to_vec();
    push(
        &mut c,
        f,
        "an oversized frame header closes with FRAME_TOO_LARGE at once",
        &s,
        vec![connect(0, "d1"), recv(5, big)],
    );
    let bad_id = vec![0, 0, 0, 4, 6, 2, b'.', b'.'];
    push(
        &mut c,
        &["HS-DOC-3", "HS-FRAME-3"],
        "an invalid document id after the handshake closes with MALFORMED",
        &s,
        vec![connect(0, "d1"), recv(5, good_hello.clone()), recv(9, bad_id)],
    );

    let r = &[
        "HS-RECON-1",
        "HS-RECON-2",
        "HS-RECON-4",
        "HS-RECON-5",
        "HS-SYNC-2",
    ];
    let items = Message::Reconcile {
        ranges: vec![RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Items(
                s.docs
                    .iter()
                    .map(|(d, h)| Item {
                        doc: d.clone(),
                        digest: heads_digest(h),
                    })
                    .chain([Item {
                        doc: doc("notes/c"),
                        digest: keys::digest("c"),
                    }])
                    .collect(),
            ),
        }],
    };
    let steps = vec![
        connect(0, "d1"),
        recv(5, hello(vec![1], empty, devices)),
        recv(9, frame(&items)),
    ];
    push(
        &mut c,
        r,
        "summaries differ: Welcome, then the dialer's Items → DocWant for the missing document, then the all-Skip reply that ends reconciliation (HS-RECON-10)",
        &s,
        steps,
    );
    let skip = Message::Reconcile {
        ranges: vec![RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Skip,
        }],
    };
    let steps = vec![
        connect(0, "d1"),
        recv(5, hello(vec![1], empty, devices)),
        recv(9, frame(&skip)),
    ];
    push(
        &mut c,
        &["HS-RECON-5"],
        "an all-Skip Reconcile ends reconciliation and is not answered",
        &s,
        steps,
    );
    let stale_devices = hello(vec![1], ours, heads_digest(&[]));
    push(
        &mut c,
        &["HS-REG-6"],
        "a different _devices digest in Hello: Welcome, then the registry document is synced first",
        &s,
        vec![connect(0, "d1"), recv(5, stale_devices)],
    );
    let del = frame(&Message::DocDeleted {
        doc: DocId::devices(),
    });
    push(
        &mut c,
        &["HS-REG-7"],
        "DocDeleted for _devices closes with PROTOCOL",
        &s,
        vec![connect(0, "d1"), recv(5, good_hello.clone()), recv(9, del)],
    );
    let close = frame(&Message::Close {
        code: humansync_protocol::CloseCode::SHUTDOWN,
        reason: "bye".to_owned(),
    });
    push(
        &mut c,
        &["HS-CLOSE-2"],
        "a Close from the peer ends the session (closed NORMAL, nothing sent)",
        &s,
        vec![connect(0, "d1"), recv(5, good_hello.clone()), recv(9, close)],
    );

    let mut revoked_me = s.clone();
    revoked_me.me = keys::id("d1");
    revoked_me.actor = keys::id("d1").as_bytes()[..16].to_vec();
    revoked_me.anchor = Some(keys::id("server"));
    revoked_me.records.push(signed(
        &RegistryRecord::Revoked {
            device: keys::id("d1"),
            revoked_at_ms: 1_700_000_000_002,
        },
        "server",
    ));
    let revoked_me = stated(revoked_me);
    push(
        &mut c,
        &["HS-GATE-5"],
        "a node that finds itself revoked refuses even the server with REVOKED",
        &revoked_me,
        vec![connect(0, "server")],
    );
    resume_cases(&mut c, &s, ours, devices);
    later_cases(&mut c, &s, ours, devices);
    c
}

fn connect_on(at_ms: u64, conn: u64, peer: &str) -> Step {
    Step::Connect {
        at_ms,
        conn,
        peer: keys::id(peer),
    }
}

fn recv_on(at_ms: u64, conn: u64, bytes: Vec<u8>) -> Step {
    Step::Receive { at_ms, conn, bytes }
}

/// Cases added in SPEC.md v3.1 (appended, so that earlier case ids stay): HS-GATE-7,
/// HS-CLOSE-3, HS-VER-6, HS-RECON-11, HS-BLOB-2, HS-TRANSPORT-4.
fn later_cases(c: &mut Cases, s: &Setup, ours: SetSummary, devices: DocDigest) {
    let good_hello = hello(vec![1], ours, devices);
    let close = |code: u32| {
        frame(&Message::Close {
            code: humansync_protocol::CloseCode(code),
            reason: String::new(),
        })
    };
    push(
        c,
        &["HS-GATE-7", "HS-CLOSE-2"],
        "a peer that closes with REVOKED proves nothing: the session ends (closed NORMAL) and the \
         same peer is admitted again on its next connection",
        s,
        vec![
            connect_on(0, 1, "d1"),
            recv_on(5, 1, good_hello.clone()),
            recv_on(9, 1, close(2)),
            connect_on(20, 2, "d1"),
            recv_on(25, 2, good_hello.clone()),
        ],
    );
    push(
        c,
        &["HS-CLOSE-3", "HS-CLOSE-2"],
        "a Close before Hello with a close code nobody knows (999) is not malformed: the session \
         ends, closed NORMAL, nothing sent",
        s,
        vec![connect(0, "d1"), recv(5, close(999))],
    );
    let empty = SetSummary {
        count: 0,
        fingerprint: Fingerprint::EMPTY,
    };
    // The dialer's Items list exactly the acceptor's documents: nothing differs, so the answer
    // is the all-Skip that ends reconciliation, with no document traffic.
    let items = Message::Reconcile {
        ranges: vec![RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Items(
                s.docs
                    .iter()
                    .map(|(d, h)| Item {
                        doc: d.clone(),
                        digest: heads_digest(h),
                    })
                    .collect(),
            ),
        }],
    };
    push(
        c,
        &["HS-VER-6", "HS-RESUME-5"],
        "a version-1 session never carries a version-2 message: differing summaries get no \
         Resume, and no Synced follows reconciliation, even after SYNCED_INTERVAL_MS",
        s,
        vec![
            connect(0, "d1"),
            recv(5, hello(vec![1], empty, devices)),
            recv(9, frame(&items)),
            Step::Timeout {
                at_ms: 9 + 2 * humansync_protocol::limits::SYNCED_INTERVAL_MS,
            },
        ],
    );
    let devices_item = Message::Reconcile {
        ranges: vec![RangeEntry {
            upper: Bound::End,
            mode: RangeMode::Items(vec![Item {
                doc: DocId::devices(),
                digest: keys::digest("devices-as-an-item"),
            }]),
        }],
    };
    push(
        c,
        &["HS-RECON-11", "HS-RECON-6"],
        "an Items range that lists _devices (never in the document set) closes with PROTOCOL",
        s,
        vec![
            connect(0, "d1"),
            recv(5, hello(vec![1], empty, devices)),
            recv(9, frame(&devices_item)),
        ],
    );
    push(
        c,
        &["HS-BLOB-2"],
        "a BlobWant for a blob the acceptor does not hold is answered with an empty BlobHave",
        s,
        vec![
            connect(0, "d1"),
            recv(5, good_hello.clone()),
            recv(
                9,
                frame(&Message::BlobWant {
                    hashes: vec![humansync_protocol::BlobHash(keys::bytes32("no-such-blob"))],
                }),
            ),
        ],
    );
    push(
        c,
        &["HS-TRANSPORT-4", "HS-TRANSPORT-3"],
        "the same peer dials a second session while the first is open: it lost the first (it \
         restarted, or its end went away unnoticed), so the older one is closed with DUPLICATE \
         and the newer one stays (it answers a DocWant with DocMissing)",
        s,
        vec![
            connect_on(0, 1, "d1"),
            recv_on(5, 1, good_hello.clone()),
            connect_on(10, 2, "d1"),
            recv_on(15, 2, good_hello.clone()),
            recv_on(
                20,
                2,
                frame(&Message::DocWant {
                    docs: vec![doc("notes/zz")],
                }),
            ),
        ],
    );
}

/// Version 2: Welcome selects 2; Synced, Resume and Resumed (HS-RESUME-*, HS-MSG-5).
fn resume_cases(c: &mut Cases, s: &Setup, ours: SetSummary, devices: DocDigest) {
    let v2_hello = hello(vec![1, 2], ours, devices);
    push(
        c,
        &["HS-VER-2", "HS-RESUME-5"],
        "Hello listing 1 and 2 with equal summaries: Welcome selects 2 and nothing follows (equal \
         summaries count as the current Synced already sent, so a no-change reconnect stays Hello \
         and Welcome)",
        s,
        vec![connect(0, "d1"), recv(5, v2_hello)],
    );
    let empty = SetSummary {
        count: 0,
        fingerprint: Fingerprint::EMPTY,
    };
    let differing = hello(vec![1, 2], empty, devices);
    let resume = |cursor| frame(&Message::Resume { cursor });
    let at = |epoch, seq| Some(humansync_protocol::Cursor { epoch, seq });
    push(
        c,
        &["HS-RESUME-2", "HS-RESUME-3"],
        "differing summaries on version 2: Welcome, then Resume; a Resume without a cursor is \
         answered Resumed{complete: false}",
        s,
        vec![
            connect(0, "d1"),
            recv(5, differing.clone()),
            recv(9, resume(None)),
        ],
    );
    push(
        c,
        &["HS-RESUME-3"],
        "a Resume with a cursor of another log (epoch) is answered Resumed{complete: false}",
        s,
        vec![
            connect(0, "d1"),
            recv(5, differing.clone()),
            recv(9, resume(at(7, 0))),
        ],
    );
    push(
        c,
        &["HS-RESUME-3"],
        "a Resume at the acceptor's current position is answered Resumed{complete: true} alone",
        s,
        vec![
            connect(0, "d1"),
            recv(5, differing.clone()),
            recv(9, resume(at(crate::driver::LOG_EPOCH, 0))),
        ],
    );
    push(
        c,
        &["HS-RESUME-6", "HS-RECON-10"],
        "an incomplete answer: the acceptor then waits for the dialer's Reconcile; one range \
         whose fingerprint equals its set is answered all-Skip",
        s,
        vec![
            connect(0, "d1"),
            recv(5, differing.clone()),
            recv(9, resume(None)),
            recv(13, frame(&Message::Resumed { complete: true })),
            recv(
                17,
                frame(&Message::Reconcile {
                    ranges: vec![RangeEntry {
                        upper: Bound::End,
                        mode: RangeMode::Fingerprint {
                            count: ours.count,
                            fingerprint: ours.fingerprint,
                        },
                    }],
                }),
            ),
        ],
    );
    push(
        c,
        &["HS-MSG-5"],
        "a version-2 message in a version-1 session closes with PROTOCOL",
        s,
        vec![
            connect(0, "d1"),
            recv(5, hello(vec![1], empty, devices)),
            recv(9, resume(None)),
        ],
    );
}
