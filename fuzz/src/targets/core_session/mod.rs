//! `core_session`: one [`Core`] driven by an arbitrary sequence of runtime inputs.
//!
//! The core trusts the fixture's anchor and holds its records: `registered` is admitted,
//! `revoked` and `unregistered` are not, nor is the core itself. The input decides which
//! connections open (as acceptor or dialer), which bytes arrive (raw chunks, frames of raw
//! payloads, well-formed messages, and the replies of a real Automerge peer that applies what
//! the core sends it), when time passes, how I/O tasks are answered, and which
//! connections close. Checked after every input:
//! - HS-GATE-2: admission matches the registry; HS-GATE-3: a rejected connection gets no
//!   Transmit ever, and bytes on it produce no output at all;
//! - after a Close output (or DisconnectPeer, or a transport close) no Transmit for it;
//! - every transmitted byte decodes as valid frames; the first message is Hello (dialer) or
//!   Welcome / Close (acceptor, HS-VER-3), and nothing follows a Close message;
//! - an acceptor that got no Hello is closed once the handshake deadline passes (HS-VER-3);
//! - `poll_timeout` after `handle_timeout(now)` is never at or before `now`;
//! - revocations are never forgotten (HS-REG-4); I/O task ids are unique.

mod io;
mod peer;

use std::collections::BTreeSet;

use arbitrary::{Result, Unstructured};
use automerge::ROOT;
use automerge::transaction::Transactable;
use humansync_protocol::limits::HANDSHAKE_TIMEOUT_MS;
use humansync_protocol::{CloseCode, DeviceId, FrameDecoder, Message, frame_payload};
use humansync_sansio::gate::Admission;
use humansync_sansio::{ConnId, Core, CoreConfig, DocMeta, Instant, IoTask, IoTaskId, Output, Role, Startup};

use crate::arb;
use crate::fixture::{Fixture, fixture};
use io::Store;
use peer::PeerView;

/// Most inputs per run.
const MAX_STEPS: usize = 64;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(mut h) = Harness::new(&mut u) {
        let _ = h.drive(&mut u);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anchor,
    Registered,
    Unregistered,
    Revoked,
    Me,
}

/// What the harness (the runtime) knows about one connection.
#[derive(Debug)]
struct Conn {
    id: ConnId,
    who: Who,
    role: Role,
    opened: Instant,
    admitted: bool,
    /// Closed by a Close output, a DisconnectPeer, or the transport.
    closed: bool,
    /// Decodes what the core transmitted.
    out: FrameDecoder,
    /// Messages the core transmitted.
    sent: Vec<&'static str>,
    view: PeerView,
}

struct Harness {
    fx: &'static Fixture,
    core: Core,
    now: Instant,
    conns: Vec<Conn>,
    tasks: Vec<IoTask>,
    task_ids: BTreeSet<IoTaskId>,
    store: Store,
    revoked_seen: BTreeSet<DeviceId>,
}

impl Harness {
    fn new(u: &mut Unstructured<'_>) -> Result<Harness> {
        let fx = fixture();
        let mut store = Store::default();
        let mut index = Vec::new();
        for doc in &fx.docs {
            if u.arbitrary()? {
                store.docs.insert(doc.id.clone(), doc.bytes.clone());
                let meta = DocMeta {
                    heads: doc.heads.iter().copied().collect(),
                    blobs: doc.blobs.clone().into(),
                    tombstone: false,
                };
                index.push((doc.id.clone(), meta));
            }
        }
        if u.ratio(1u8, 4)? {
            let tomb = DocMeta {
                tombstone: true,
                ..DocMeta::default()
            };
            index.push((arb::doc_id(u)?, tomb));
        }
        let devices_doc = match u.int_in_range(0u8..=7)? {
            0 => fx.devices_doc_plus[0].clone(), // `registered` already revoked
            _ => fx.devices_doc.clone(),
        };
        let startup = Startup {
            index,
            devices_doc: Some(devices_doc),
            local_blobs: if u.arbitrary()? { vec![fx.blob] } else { Vec::new() },
            // Small epochs, so that fuzzed cursors sometimes name this log (HS-RESUME-3).
            log_epoch: u.int_in_range(0u64..=3)?,
            pinned_blobs: if u.arbitrary()? { vec![fx.blob] } else { Vec::new() },
            blob_ages: if u.arbitrary()? {
                vec![(fx.blob, u.int_in_range(0u64..=100_000_000)?)]
            } else {
                Vec::new()
            },
            cursors: if u.arbitrary()? {
                vec![(
                    DeviceId::from(&fx.registered),
                    humansync_protocol::Cursor {
                        epoch: u.arbitrary()?,
                        seq: u.int_in_range(0u64..=8)?,
                    },
                )]
            } else {
                Vec::new()
            },
        };
        let mut config = CoreConfig::new(DeviceId::from(&fx.me), vec![1; 16], Some(fx.anchor_id()));
        config.cache_capacity = u.int_in_range(1..=4)?;
        config.max_inflight_loads = u.int_in_range(1..=3)?;
        let now = Instant(u.int_in_range(0u64..=1_000_000)?);
        // The fixture's `_devices` bytes are a valid saved document.
        let core = Core::new(now, config, startup).expect("core starts from the fixture");
        let mut h = Harness {
            fx,
            core,
            now,
            conns: Vec::new(),
            tasks: Vec::new(),
            task_ids: BTreeSet::new(),
            store,
            revoked_seen: BTreeSet::new(),
        };
        h.drain();
        Ok(h)
    }

    fn id_of(&self, who: Who) -> DeviceId {
        let key = match who {
            Who::Anchor => &self.fx.anchor,
            Who::Registered => &self.fx.registered,
            Who::Unregistered => &self.fx.unregistered,
            Who::Revoked => &self.fx.revoked,
            Who::Me => &self.fx.me,
        };
        DeviceId::from(key)
    }

    fn drive(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        for _ in 0..MAX_STEPS {
            if u.is_empty() {
                break;
            }
            self.step(u)?;
            self.check_state();
        }
        Ok(())
    }

    fn pick_conn(&self, u: &mut Unstructured<'_>) -> Result<Option<usize>> {
        if self.conns.is_empty() {
            return Ok(None);
        }
        Ok(Some(u.choose_index(self.conns.len())?))
    }

    fn step(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        match u.int_in_range(0u8..=15)? {
            0 | 1 => {
                let who = *u.choose(&[
                    Who::Anchor,
                    Who::Registered,
                    Who::Unregistered,
                    Who::Revoked,
                    Who::Me,
                ])?;
                let role = if u.arbitrary()? {
                    Role::Dialer
                } else {
                    Role::Acceptor
                };
                self.open(u, who, role)?;
            }
            2 => {
                if let Some(i) = self.pick_conn(u)? {
                    let data: Vec<u8> = u.arbitrary()?;
                    self.deliver(i, &data);
                }
            }
            3 => {
                if let Some(i) = self.pick_conn(u)? {
                    let payload: Vec<u8> = u.arbitrary()?;
                    let framed = frame_payload(&payload).unwrap_or_default();
                    self.deliver(i, &framed);
                }
            }
            4 | 5 => {
                if let Some(i) = self.pick_conn(u)? {
                    let msg = peer::handshake(u, &self.conns[i].view, self.conns[i].role == Role::Dialer)?;
                    self.deliver(i, &arb::frame_lenient(&msg));
                }
            }
            9 => {
                if let Some(i) = self.pick_conn(u)?
                    && let Some(msg) = self.conns[i].view.sync_reply(u, self.fx)?
                {
                    self.deliver(i, &arb::frame_lenient(&msg));
                }
            }
            6..=8 => {
                if let Some(i) = self.pick_conn(u)? {
                    let msg = peer::message(u, self.fx, &self.conns[i].view)?;
                    let framed = arb::frame_lenient(&msg);
                    // Sometimes split the frame in two, to cross chunk boundaries.
                    let cut = u.int_in_range(0..=framed.len())?;
                    self.deliver(i, &framed[..cut]);
                    self.deliver(i, &framed[cut..]);
                }
            }
            10 => {
                let advance = match u.int_in_range(0u8..=3)? {
                    0 => self.core.poll_timeout().map_or(0, |t| t.ms_since(self.now)),
                    1 => HANDSHAKE_TIMEOUT_MS,
                    _ => u64::from(u.arbitrary::<u16>()?),
                };
                self.timeout(advance);
            }
            11 | 12 => self.answer_io(u)?,
            13 => {
                if let Some(i) = self.pick_conn(u)? {
                    let code = CloseCode(u.int_in_range(0u32..=12)?);
                    let id = self.conns[i].id;
                    if u.arbitrary()? {
                        // The transport reports the connection gone: nothing may follow.
                        self.conns[i].closed = true;
                        self.core.handle_connection_closed(self.now, id, code);
                    } else {
                        self.core.close(self.now, id, code);
                    }
                    self.drain();
                }
            }
            14 => self.edit(u)?,
            _ => {
                let doc = self.fx.docs[u.choose_index(self.fx.docs.len())?].id.clone();
                if u.arbitrary()? {
                    let _ = self.core.delete(self.now, &doc);
                } else {
                    self.core.handle_blob_added(self.now, self.fx.blob);
                }
                self.drain();
            }
        }
        Ok(())
    }

    /// Opens a connection and checks the gate's decision (HS-GATE-2, HS-GATE-5).
    fn open(&mut self, u: &mut Unstructured<'_>, who: Who, role: Role) -> Result<()> {
        let id = ConnId(self.conns.len() as u64 + 1);
        let peer = self.id_of(who);
        let registry = self.core.registry();
        let me_revoked = registry.is_revoked(&self.id_of(Who::Me));
        let expected = !me_revoked
            && match who {
                Who::Anchor => true,
                Who::Registered => !registry.is_revoked(&peer),
                Who::Unregistered | Who::Revoked | Who::Me => false,
            };
        let admission = self.core.handle_connection(self.now, id, peer, role);
        assert_eq!(
            admission == Admission::Admit,
            expected,
            "HS-GATE-2: {who:?} got {admission:?}"
        );
        let view = PeerView {
            set: peer::peer_set(u, self.fx)?,
            ..PeerView::default()
        };
        self.conns.push(Conn {
            id,
            who,
            role,
            opened: self.now,
            admitted: admission == Admission::Admit,
            closed: admission != Admission::Admit,
            out: FrameDecoder::new(),
            sent: Vec::new(),
            view,
        });
        self.drain();
        Ok(())
    }

    /// Delivers bytes on connection `i`; a connection without a session must cause no output.
    fn deliver(&mut self, i: usize, bytes: &[u8]) {
        let id = self.conns[i].id;
        let live = self.core.status().peers.iter().any(|p| p.conn == id);
        self.core.handle_bytes(self.now, id, bytes);
        if !live {
            // HS-GATE-3: nothing a rejected (or closed) connection sends is processed.
            assert!(
                self.core.poll_output().is_none(),
                "bytes on {id:?} without a session produced output"
            );
        }
        self.drain();
    }

    fn timeout(&mut self, advance: u64) {
        self.now = self.now.plus_ms(advance);
        self.core.handle_timeout(self.now);
        self.drain();
        if let Some(next) = self.core.poll_timeout() {
            assert!(
                next > self.now,
                "poll_timeout {next:?} not after handle_timeout({:?})",
                self.now
            );
        }
        // HS-VER-3: an acceptor without Hello is closed at its deadline.
        for c in &self.conns {
            let late = self.now.ms_since(c.opened) >= HANDSHAKE_TIMEOUT_MS;
            if c.admitted && c.role == Role::Acceptor && late && c.sent.is_empty() {
                assert!(
                    c.closed,
                    "{:?}: no Hello for {} ms, still open",
                    c.id,
                    self.now.ms_since(c.opened)
                );
            }
        }
    }

    fn answer_io(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        if self.tasks.is_empty() || u.ratio(1u8, 16)? {
            // An id the core never issued: ignored.
            self.core.handle_io_result(
                self.now,
                IoTaskId(u.arbitrary()?),
                humansync_sansio::IoResult::Done,
            );
            self.drain();
            return Ok(());
        }
        let task = self.tasks.remove(u.choose_index(self.tasks.len())?);
        let result = self.store.answer(u, self.fx, &task)?;
        self.core.handle_io_result(self.now, task.id, result);
        self.drain();
        Ok(())
    }

    fn edit(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let doc = if u.arbitrary()? {
            self.fx.docs[u.choose_index(self.fx.docs.len())?].id.clone()
        } else {
            arb::doc_id(u)?
        };
        let key = format!("k{}", u.int_in_range(0u8..=7)?);
        if let Ok(humansync_sansio::OpenState::Ready) = self.core.open(self.now, &doc, true) {
            let _ = self.core.change(self.now, &doc, |am| {
                am.transact::<_, _, automerge::AutomergeError>(|tx| {
                    tx.put(ROOT, key.as_str(), "v").map(|_| ())
                })
                .is_ok()
            });
        }
        self.drain();
        Ok(())
    }

    /// Drains every output and checks it.
    fn drain(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Transmit { conn, bytes } => self.transmitted(conn, &bytes),
                Output::Close { conn, .. } => {
                    let c = self.conn_mut(conn);
                    assert!(c.admitted, "Close for a connection the gate rejected");
                    c.closed = true;
                }
                Output::DisconnectPeer { peer, .. } => {
                    assert_ne!(
                        self.core.admission_of(&peer),
                        Admission::Admit,
                        "DisconnectPeer for an admitted peer"
                    );
                    let who: Vec<usize> = (0..self.conns.len())
                        .filter(|&i| self.id_of(self.conns[i].who) == peer)
                        .collect();
                    for i in who {
                        self.conns[i].closed = true;
                    }
                }
                Output::Io(task) => {
                    assert!(
                        self.task_ids.insert(task.id),
                        "I/O task id {:?} issued twice",
                        task.id
                    );
                    self.tasks.push(task);
                }
                // The harness makes no app requests.
                Output::Event(_) | Output::AppDone { .. } => {}
                // The gate decides again when the harness connects; a dial is not performed.
                Output::Dial { .. } | Output::Gate(_) => {}
            }
        }
    }

    fn conn_mut(&mut self, id: ConnId) -> &mut Conn {
        let i = self.conns.iter().position(|c| c.id == id);
        let i = i.unwrap_or_else(|| panic!("output for unknown connection {id:?}"));
        &mut self.conns[i]
    }

    fn transmitted(&mut self, conn: ConnId, bytes: &[u8]) {
        let fx = self.fx;
        let c = self.conn_mut(conn);
        assert!(
            c.admitted,
            "HS-GATE-3: Transmit to rejected {:?} ({:?})",
            c.id, c.who
        );
        assert!(!c.closed, "Transmit on {:?} after it closed", c.id);
        c.out.push(bytes);
        loop {
            let msg = match c.out.next_message() {
                Ok(Some(msg)) => msg,
                Ok(None) => break,
                Err(e) => panic!("the core transmitted an invalid frame: {e}"),
            };
            assert!(
                c.sent.last() != Some(&"Close"),
                "{:?}: {} after a Close message",
                c.id,
                msg.kind()
            );
            if c.sent.is_empty() {
                let ok = match c.role {
                    Role::Dialer => matches!(msg, Message::Hello { .. }),
                    Role::Acceptor => matches!(msg, Message::Welcome { .. } | Message::Close { .. }),
                };
                assert!(
                    ok,
                    "HS-VER-3: first message on {:?} ({:?}) is {}",
                    c.id,
                    c.role,
                    msg.kind()
                );
            }
            c.view.received(fx, &msg);
            c.sent.push(msg.kind());
        }
    }

    /// Cross-checks the core's sessions and registry with what the harness saw.
    fn check_state(&mut self) {
        for p in self.core.status().peers {
            let c = self.conns.iter().find(|c| c.id == p.conn);
            let c = c.unwrap_or_else(|| panic!("session for unknown {:?}", p.conn));
            assert!(
                c.admitted && !c.closed,
                "{:?} has a session but is rejected or closed",
                c.id
            );
        }
        let revoked: BTreeSet<DeviceId> = self
            .core
            .registry()
            .devices()
            .filter(|(_, s)| s.revoked_at_ms.is_some())
            .map(|(d, _)| *d)
            .collect();
        assert!(
            revoked.is_superset(&self.revoked_seen),
            "HS-REG-4: a revocation was forgotten"
        );
        self.revoked_seen = revoked;
    }
}
