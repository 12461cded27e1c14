//! The receiving device runs in a child process (this binary re-executed with `--child`), so its
//! peak RSS is its own. Parent and child talk in JSON lines over the child's stdin and stdout.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use humansync::DeviceId;
use humansync::protocol::http::PairResponse;
use humansync_benchkit::timeline;
use serde::{Deserialize, Serialize};

use crate::common::{self, Traffic};

/// What the parent asks.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToChild {
    /// Start the node and answer Ready.
    Start,
    /// Apply `pairing` (if any), dial the server at `addrs`, and report once `docs` notes are
    /// durable and `changed` distinct notes changed by the server.
    Sync {
        pairing: Option<PairResponse>,
        server: DeviceId,
        addrs: Vec<SocketAddr>,
        docs: usize,
        changed: usize,
    },
    /// Baseline: dial the plain Automerge sync server and receive `docs` documents.
    Baseline {
        server: String,
        addrs: Vec<SocketAddr>,
        docs: usize,
    },
    /// Read a note's scalar `key` (to check content arrived).
    Read { doc: String, key: String },
    /// Start recording when each document changes by `from` (wall clock, unix ns); answer
    /// Watching at once.
    Watch { from: DeviceId },
    /// Answer Seen once every one of `docs` changed since Watch, or after `timeout_ms`.
    Collect { docs: Vec<String>, timeout_ms: u64 },
    /// Fetch a blob from a connected peer and answer Fetched (`wan_blob.rs`).
    FetchBlob { hash: humansync::BlobHash },
    /// Shut the node down and exit.
    Exit,
}

/// What the child answers.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromChild {
    /// The node started: its id, and the time from `main` to `init` returning.
    Ready { id: Option<DeviceId>, init_ms: f64 },
    /// Synced (or baseline received).
    Synced(SyncReport),
    /// A value read.
    Value(Option<i64>),
    /// Recording changes.
    Watching,
    /// What the device saw of the edits since Watch.
    Seen(EditsSeen),
    /// A blob fetched.
    Fetched(crate::wan_blob::BlobReport),
    /// Shut down.
    Bye,
}

/// What the device saw of the edits made since Watch (benchmark 10).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EditsSeen {
    /// When each document first changed after Watch (unix ns), for those that did.
    pub at: std::collections::BTreeMap<String, u128>,
    /// Documents loaded from disk meanwhile (each edit appended unparsed loads none).
    pub docs_loaded: u64,
    /// Received changes appended to stored documents unparsed meanwhile.
    pub changes_appended: u64,
    /// Bytes received on the session with the editing peer meanwhile.
    pub bytes_in: u64,
}

impl EditsSeen {
    /// These counters less `before`'s (the times are kept).
    fn since(self, before: &EditsSeen) -> EditsSeen {
        EditsSeen {
            docs_loaded: self.docs_loaded - before.docs_loaded,
            changes_appended: self.changes_appended - before.changes_appended,
            bytes_in: self.bytes_in - before.bytes_in,
            ..self
        }
    }
}

/// One receive, measured in the child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncReport {
    /// From the request (dial) to every document durable.
    pub ms: f64,
    /// From the start of `main` to every document durable (cold start).
    pub since_main_ms: f64,
    /// Traffic of the session at the child's end.
    pub traffic: Traffic,
    /// Documents loaded from disk and parsed since start.
    pub docs_loaded: u64,
    /// Stored documents parsed by Automerge since start.
    #[serde(default)]
    pub docs_parsed: u64,
    /// Received changes appended to stored documents unparsed since start (issue 22 §1).
    #[serde(default)]
    pub changes_appended: u64,
    /// Saves made durable since start.
    #[serde(default)]
    pub saves_done: u64,
    /// Durable write batches (one log sync each) since start.
    #[serde(default)]
    pub store_batches: u64,
    /// Peak resident set size (VmHWM) in KiB.
    pub peak_kib: u64,
    /// Most heap bytes live at once during the sync, in KiB (counted by the allocator,
    /// `heap.rs`).
    #[serde(default)]
    pub heap_peak_kib: u64,
    /// Resident set size now in KiB.
    pub rss_kib: u64,
    /// Dials this node started since start (`NodeTotals::dials_started`).
    pub dials: u64,
    /// Sessions whose handshake completed since start (`NodeTotals::sessions_opened`).
    pub sessions_opened: u64,
}

/// The child side: runs until told to exit.
pub fn run(dir: PathBuf) {
    let main_start = Instant::now();
    let runtime = crate::common::runtime();
    runtime.block_on(async move {
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        let mut node: Option<humansync::Node> = None;
        let seen: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, u128>>> =
            Default::default();
        // The peer watched and the counters at Watch.
        let mut watched: Option<(DeviceId, EditsSeen)> = None;
        let mut out = std::io::stdout().lock();
        let mut say = |msg: FromChild| {
            let line = serde_json::to_string(&msg).expect("encode");
            writeln!(out, "{line}").expect("write to parent");
            out.flush().expect("flush");
        };
        while let Some(Ok(line)) = lines.next() {
            let msg: ToChild = serde_json::from_str(&line).expect("parent message");
            match msg {
                ToChild::Start => {
                    let n = common::start(&dir).await;
                    say(FromChild::Ready {
                        id: Some(n.id()),
                        init_ms: common::ms_since(main_start),
                    });
                    if std::env::var_os("HS_BENCH_DEBUG").is_some() {
                        let mut events = n.events();
                        tokio::spawn(async move {
                            while let Ok(e) = events.recv().await {
                                if !matches!(e, humansync::Event::DocChanged { .. }) {
                                    eprintln!("child event: {e:?}");
                                }
                            }
                        });
                    }
                    node = Some(n);
                }
                ToChild::Sync {
                    pairing,
                    server,
                    addrs,
                    docs,
                    changed,
                } => {
                    let n = node.clone().expect("Start comes before Sync");
                    let seen = common::count_remote_changes(&n);
                    let timeline = timeline::enabled().then(|| timeline::Timeline::start(&n));
                    crate::heap::reset_peak();
                    let t = Instant::now();
                    if let Some(pairing) = pairing {
                        n.apply_pairing(pairing).await.expect("pairing");
                    }
                    n.add_peer_addrs(server, addrs).await.expect("addrs");
                    if let Some(tl) = &timeline {
                        tl.mark("pairing and addresses applied");
                    }
                    let (stats, synced_at) = common::wait_synced_traced(
                        &n,
                        server,
                        docs,
                        (&seen, changed),
                        Duration::from_secs(600),
                        timeline.as_ref(),
                    )
                    .await;
                    let ms = synced_at.duration_since(t).as_secs_f64() * 1e3;
                    if let Some(tl) = &timeline {
                        tl.print(&format!("child sync ({docs} docs, {changed} changed)"));
                    }
                    let since_main_ms = synced_at.duration_since(main_start).as_secs_f64() * 1e3;
                    let traffic = common::session_with(&stats, server)
                        .map(Traffic::of)
                        .unwrap_or_default();
                    let (peak_kib, rss_kib) = common::memory_kib();
                    say(FromChild::Synced(SyncReport {
                        ms,
                        since_main_ms,
                        traffic,
                        docs_loaded: stats.docs_loaded,
                        docs_parsed: stats.docs_parsed,
                        changes_appended: stats.changes_appended,
                        saves_done: stats.saves_done,
                        store_batches: stats.store_batches,
                        peak_kib,
                        heap_peak_kib: crate::heap::peak_kib(),
                        rss_kib,
                        dials: stats.totals.dials_started,
                        sessions_opened: stats.totals.sessions_opened,
                    }));
                }
                ToChild::Baseline { server, addrs, docs } => {
                    say(FromChild::Ready {
                        id: None,
                        init_ms: common::ms_since(main_start),
                    });
                    let report = crate::baseline::receive(&dir, server, addrs, docs).await;
                    say(FromChild::Synced(report));
                }
                ToChild::Read { doc, key } => {
                    let value = match &node {
                        Some(n) => n
                            .open_doc(&doc)
                            .await
                            .expect("doc")
                            .get::<i64>(&key)
                            .await
                            .expect("read"),
                        None => None,
                    };
                    say(FromChild::Value(value));
                }
                ToChild::Watch { from } => {
                    let n = node.clone().expect("Start comes before Watch");
                    watched = Some((from, edit_counters(&n, from).await));
                    let mut events = n.events();
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        while let Ok(e) = events.recv().await {
                            if let humansync::Event::DocChanged { doc, origin } = e
                                && origin == humansync::Origin::Remote(from)
                            {
                                let at = std::time::SystemTime::now()
                                    .duration_since(std::time::UNIX_EPOCH)
                                    .expect("after 1970")
                                    .as_nanos();
                                seen.lock()
                                    .expect("lock")
                                    .entry(doc.as_str().to_owned())
                                    .or_insert(at);
                            }
                        }
                    });
                    say(FromChild::Watching);
                }
                ToChild::Collect { docs, timeout_ms } => {
                    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
                    loop {
                        let done = {
                            let s = seen.lock().expect("lock");
                            docs.iter().all(|d| s.contains_key(d))
                        };
                        if done || Instant::now() > deadline {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    let mut report = match (&node, &watched) {
                        (Some(n), Some((from, before))) => edit_counters(n, *from).await.since(before),
                        _ => EditsSeen::default(),
                    };
                    report.at = seen.lock().expect("lock").clone();
                    say(FromChild::Seen(report));
                }
                ToChild::FetchBlob { hash } => {
                    let n = node.as_ref().expect("Start comes before FetchBlob");
                    say(FromChild::Fetched(crate::wan_blob::fetch_in_child(n, hash).await));
                }
                ToChild::Exit => {
                    if let Some(n) = node.take() {
                        n.shutdown().await.expect("shutdown");
                    }
                    say(FromChild::Bye);
                    return;
                }
            }
        }
    });
}

/// The node's counters now (documents loaded, changes appended unparsed, bytes received from
/// `peer`), with no change times.
async fn edit_counters(node: &humansync::Node, peer: DeviceId) -> EditsSeen {
    let stats = node.stats().await.expect("stats");
    EditsSeen {
        at: Default::default(),
        docs_loaded: stats.docs_loaded,
        changes_appended: stats.changes_appended,
        bytes_in: common::session_with(&stats, peer).map_or(0, |s| s.stats.bytes_in),
    }
}

/// The parent's handle on a child process.
pub struct ChildProc {
    child: Child,
    stdin: ChildStdin,
    stdout: std::io::BufReader<ChildStdout>,
}

impl ChildProc {
    /// Starts this binary as a child storing its node under `dir`. With `HS_BENCH_CHILD_WRAP`
    /// set (a command and its arguments, split at spaces, e.g. `heaptrack -o /tmp/child`), the
    /// child runs under that command: a heap profile of the receiving device alone.
    pub fn spawn(dir: &std::path::Path) -> ChildProc {
        let exe = std::env::current_exe().expect("current exe");
        let wrap = std::env::var("HS_BENCH_CHILD_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let command = match words.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(words).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        ChildProc::spawn_with(command, dir)
    }

    /// Starts `command` (this binary, perhaps wrapped: `ip netns exec …`) as a child storing its
    /// node under `dir`.
    pub fn spawn_with(mut command: Command, dir: &std::path::Path) -> ChildProc {
        let mut child = command
            .arg("--child")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        ChildProc { child, stdin, stdout }
    }

    /// Sends a message.
    pub fn send(&mut self, msg: &ToChild) {
        let line = serde_json::to_string(msg).expect("encode");
        writeln!(self.stdin, "{line}").expect("write to child");
        self.stdin.flush().expect("flush");
    }

    /// Waits for the next message (the worker thread hands its other tasks over meanwhile).
    /// Lines that are not a message (a wrapper's own output, `HS_BENCH_CHILD_WRAP`) are passed
    /// to stderr.
    pub fn recv(&mut self) -> FromChild {
        tokio::task::block_in_place(|| {
            loop {
                let mut line = String::new();
                let n = self.stdout.read_line(&mut line).expect("read from child");
                assert!(n > 0, "the child exited early");
                match serde_json::from_str(&line) {
                    Ok(msg) => return msg,
                    Err(_) => eprint!("child: {line}"),
                }
            }
        })
    }

    /// Asks the child to exit and reaps it.
    pub fn exit(mut self) {
        self.send(&ToChild::Exit);
        let _ = self.recv();
        let _ = self.child.wait();
    }
}
