//! Two devices' cores joined by sessions the test drives: each answers its disk tasks from an
//! in-memory store that can be made to refuse writes (a full disk) or to hold them unanswered
//! (a slow disk), and records what it sent.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use automerge::ROOT;
use automerge::transaction::Transactable;
use humansync_protocol::{CloseCode, DeviceId, DocId, FrameDecoder, Message};
use humansync_sansio::{
    ConnId, Core, CoreConfig, Instant, IoAction, IoResult, IoTask, Output, Role, Startup,
};

use crate::mem_store::{self, key};

pub fn doc(name: &str) -> DocId {
    DocId::new(format!("notes/{name}")).expect("id")
}

/// One device: its core, its disk, and every message it sent on each connection.
pub struct Device {
    pub core: Core,
    pub store: BTreeMap<DocId, Vec<u8>>,
    pub sent: BTreeMap<ConnId, FrameDecoder>,
    pub messages: Vec<(ConnId, Message)>,
    pub closed: Vec<(ConnId, CloseCode)>,
    /// While true, the store refuses every document write ("No space left on device"); the
    /// small cursor file still fits.
    pub disk_full: bool,
    /// Cursor saves the store took (HS-RESUME-5).
    pub cursors_saved: usize,
    /// While true, document writes are held unanswered in `held_writes` (a slow disk) until
    /// [`Device::answer_writes`].
    pub disk_paused: bool,
    pub held_writes: Vec<IoTask>,
}

impl Device {
    pub fn new(seed: u8) -> Device {
        Device::starting(seed, Startup::default())
    }

    /// A device that keeps a change log (resumes, sends and keeps Synced cursors, HS-RESUME-1).
    pub fn with_log(seed: u8) -> Device {
        let startup = Startup {
            log_epoch: 1000 + u64::from(seed),
            ..Startup::default()
        };
        Device::starting(seed, startup)
    }

    fn starting(seed: u8, startup: Startup) -> Device {
        Device::configured(seed, startup, |_| {})
    }

    /// A device whose configuration `tune` adjusts.
    pub fn configured(seed: u8, startup: Startup, tune: impl FnOnce(&mut CoreConfig)) -> Device {
        let server = key(1);
        let mut config = CoreConfig::new(
            DeviceId::from(&key(seed)),
            vec![seed; 16],
            Some(DeviceId::from(&server)),
        );
        tune(&mut config);
        let mut core = Core::new(Instant(0), config, startup).expect("core");
        mem_store::register_devices(&mut core, &server, &[2, 3]);
        Device {
            core,
            store: BTreeMap::new(),
            sent: BTreeMap::new(),
            messages: Vec::new(),
            closed: Vec::new(),
            disk_full: false,
            cursors_saved: 0,
            disk_paused: false,
            held_writes: Vec::new(),
        }
    }

    /// The highest count this device sent in a `Held` on `conn` (0 before any).
    pub fn held_count(&self, conn: ConnId) -> u64 {
        self.messages
            .iter()
            .filter(|(c, _)| *c == conn)
            .filter_map(|(_, m)| match m {
                Message::Held { count, .. } => Some(*count),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Answers the `n` oldest held document writes (the slow disk catches up).
    pub fn answer_writes(&mut self, now: u64, n: usize) {
        let n = n.min(self.held_writes.len());
        for task in self.held_writes.drain(..n).collect::<Vec<_>>() {
            let result = mem_store::answer(&mut self.store, &task.action);
            self.core.handle_io_result(Instant(now), task.id, result);
        }
    }

    pub fn edit(&mut self, now: u64, d: &DocId, title: &str) {
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
    pub fn pump(&mut self, now: u64) -> Vec<(ConnId, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(o) = self.core.poll_output() {
            match o {
                Output::Io(task) => {
                    let write = matches!(task.action, IoAction::SaveDoc { .. } | IoAction::DeleteDoc { .. });
                    if matches!(task.action, IoAction::SaveCursors { .. }) {
                        self.cursors_saved += 1;
                    }
                    if self.disk_paused && write {
                        self.held_writes.push(task);
                        continue;
                    }
                    let result = if self.disk_full && write {
                        IoResult::Failed {
                            reason: "No space left on device".into(),
                        }
                    } else {
                        mem_store::answer(&mut self.store, &task.action)
                    };
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

    pub fn up_to_date(&self, conn: ConnId) -> (bool, usize) {
        let status = self.core.status();
        let p = status.peers.iter().find(|p| p.conn == conn).expect("session");
        (p.up_to_date, p.outstanding)
    }
}

/// Connects `s` (dialer) and `r` (acceptor) on `conn` and moves bytes both ways until neither
/// sends anything.
pub fn session(now: &mut u64, s: &mut Device, r: &mut Device, conn: ConnId) {
    s.core
        .handle_connection(Instant(*now), conn, r.core.me(), Role::Dialer);
    r.core
        .handle_connection(Instant(*now), conn, s.core.me(), Role::Acceptor);
    settle(now, s, r);
}

pub fn settle(now: &mut u64, s: &mut Device, r: &mut Device) {
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

pub fn close(now: u64, s: &mut Device, r: &mut Device, conn: ConnId) {
    s.core
        .handle_connection_closed(Instant(now), conn, CloseCode::NORMAL);
    r.core
        .handle_connection_closed(Instant(now), conn, CloseCode::NORMAL);
    s.pump(now);
    r.pump(now);
}
