//! The sender window (HS-SYNC-15, issue 17): on a version-3 session a sender keeps at most a
//! window of DocWhole / DocChanges bytes not yet covered by the peer's `Held` — past it, by at
//! most the one message that crossed it — while the receiver's disk is slow or paused; the rest
//! waits, queued by document, and goes out as `Held`s arrive, and everything still arrives and
//! settles. With a receiver that stops reading while its writes in flight are over a bound (as
//! the runtime's driver does), those writes and the bytes queued towards it stay bounded too.
//! Counts of bytes and messages only; time is a step counter.

mod mem_store;
mod two_devices;

use std::collections::VecDeque;

use humansync_protocol::{DocId, Message};
use humansync_sansio::{ConnId, Instant, Role, Startup};

use two_devices::{Device, doc};

/// The window of both devices here: a few documents' worth.
const WINDOW: usize = 16 * 1024;
const DOCS: usize = 60;

fn device(seed: u8) -> Device {
    Device::configured(seed, Startup::default(), |c| c.send_window = WINDOW)
}

/// 2,000 pseudo-random letters (they do not compress away): a note of ~1.3 KB saved.
fn text(i: usize) -> String {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ i as u64;
    (0..2_000)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(b'a' + ((x >> 33) % 26) as u8)
        })
        .collect()
}

fn note(i: usize) -> DocId {
    doc(&format!("n{i:03}"))
}

/// A sender holding `DOCS` notes and an empty receiver.
fn devices(now: u64) -> (Device, Device) {
    let mut s = device(3);
    let r = device(2);
    for i in 0..DOCS {
        s.edit(now, &note(i), &text(i));
    }
    s.pump(now);
    (s, r)
}

/// Payload bytes of S's DocWhole / DocChanges on `conn` not covered by the highest `Held` R
/// sent — read from the wire, not from S's core.
fn wire_unheld(s: &Device, r: &Device, conn: ConnId) -> usize {
    payloads(s, conn).iter().skip(r.held_count(conn) as usize).sum()
}

/// Payload bytes of each DocWhole / DocChanges S sent on `conn`, in order (its numbers).
fn payloads(s: &Device, conn: ConnId) -> Vec<usize> {
    s.messages
        .iter()
        .filter(|(c, _)| *c == conn)
        .filter_map(|(_, m)| match m {
            Message::DocWhole { bytes, .. } | Message::DocChanges { bytes, .. } => Some(bytes.len()),
            _ => None,
        })
        .collect()
}

/// The bound of HS-SYNC-15: a message goes out only while the bytes outstanding are below the
/// window, so they exceed it by at most one message.
fn bound(s: &Device, conn: ConnId) -> usize {
    WINDOW + payloads(s, conn).into_iter().max().unwrap_or(0)
}

fn connect(now: u64, s: &mut Device, r: &mut Device, conn: ConnId) {
    s.core
        .handle_connection(Instant(now), conn, r.core.me(), Role::Dialer);
    r.core
        .handle_connection(Instant(now), conn, s.core.me(), Role::Acceptor);
}

/// R's paused disk answers four writes at a time, the two exchanging after each, until S is up
/// to date and R holds no write; returns the peak of [`run`]s.
fn catch_up(now: &mut u64, s: &mut Device, r: &mut Device, conn: ConnId) -> usize {
    let mut peak = 0;
    for _ in 0..1_000 {
        if s.up_to_date(conn).0 && r.held_writes.is_empty() {
            break;
        }
        r.answer_writes(*now, 4);
        peak = peak.max(run(now, s, r, conn));
    }
    peak
}

/// Moves bytes both ways until neither sends anything, checking S's window after every step;
/// returns the most bytes S had outstanding.
fn run(now: &mut u64, s: &mut Device, r: &mut Device, conn: ConnId) -> usize {
    let mut peak = 0;
    for _ in 0..1_000 {
        *now += 1;
        let from_s = s.pump(*now);
        let unheld = wire_unheld(s, r, conn);
        assert_eq!(
            s.core.send_window(conn).map(|(bytes, _)| bytes),
            Some(unheld),
            "S's count of bytes outstanding is the wire's"
        );
        assert!(
            unheld <= bound(s, conn),
            "{unheld} bytes outstanding, over the window {WINDOW} + one message"
        );
        peak = peak.max(unheld);
        let from_r = r.pump(*now);
        if from_s.is_empty() && from_r.is_empty() {
            return peak;
        }
        for (c, bytes) in from_s {
            r.core.handle_bytes(Instant(*now), c, &bytes);
        }
        for (c, bytes) in from_r {
            s.core.handle_bytes(Instant(*now), c, &bytes);
        }
    }
    panic!("did not settle");
}

/// Every note arrived at R's store as S holds it.
fn all_arrived(s: &Device, r: &Device) {
    for i in 0..DOCS {
        let d = note(i);
        assert!(r.store.contains_key(&d), "{d} stored at R");
        assert_eq!(r.core.digest(&d), s.core.digest(&d), "{d} as S holds it");
    }
}

#[test]
fn a_sender_keeps_at_most_a_window_unheld_while_the_receivers_disk_is_paused() {
    // HS-SYNC-15, HS-SYNC-14, HS-SYNC-7
    let mut now = 1;
    let (mut s, mut r) = devices(now);
    let conn = ConnId(1);
    r.disk_paused = true;
    connect(now, &mut s, &mut r, conn);
    let mut peak = run(&mut now, &mut s, &mut r, conn);

    // Nothing is durable at R, so nothing is held: S stopped at the window.
    let sent = payloads(&s, conn).len();
    let (unheld, waiting) = s.core.send_window(conn).expect("session");
    assert!(sent < DOCS, "S sent {sent} of {DOCS} notes into a paused disk");
    assert!(unheld >= WINDOW && unheld <= bound(&s, conn), "{unheld}");
    assert_eq!(waiting, DOCS - sent, "the rest wait, one entry per document");
    let (up_to_date, outstanding) = s.up_to_date(conn);
    assert!(!up_to_date, "sends waiting: R is not up to date");
    assert!(
        outstanding >= waiting,
        "{outstanding} outstanding, {waiting} waiting"
    );

    // The disk catches up four writes at a time; S sends the rest as Helds arrive.
    peak = peak.max(catch_up(&mut now, &mut s, &mut r, conn));
    assert!(s.up_to_date(conn).0, "S settles once R holds everything");
    assert_eq!(s.core.send_window(conn), Some((0, 0)));
    assert_eq!(payloads(&s, conn).len(), DOCS, "each note sent once");
    assert!(peak >= WINDOW && peak <= bound(&s, conn), "peak {peak}");
    all_arrived(&s, &r);
    assert!(s.closed.is_empty() && r.closed.is_empty());
}

#[test]
fn a_receiver_that_reads_at_its_disks_pace_keeps_writes_and_the_senders_queue_bounded() {
    // HS-SYNC-15, HS-SYNC-14 (issue 17): R takes S's next frame only while its document writes
    // in flight are under `READ_BOUND`, as the runtime's driver does with its own bound; its
    // disk answers one write per step, slower than the frames come. S's frames wait in `queue`, its transport queue.
    const READ_BOUND: usize = 8 * 1024;
    let mut now = 1;
    let (mut s, mut r) = devices(now);
    let conn = ConnId(1);
    r.disk_paused = true;
    connect(now, &mut s, &mut r, conn);
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let (mut peak_writes, mut peak_queue, mut paused_steps) = (0, 0, 0);
    for _ in 0..20_000 {
        now += 1;
        queue.extend(s.pump(now).into_iter().map(|(_, bytes)| bytes));
        peak_queue = peak_queue.max(queue.iter().map(Vec::len).sum::<usize>());
        // R's driver: frames as they come, one per input, none while its disk is behind.
        while r.core.write_bytes_in_flight() < READ_BOUND {
            let Some(frame) = queue.pop_front() else {
                break;
            };
            r.core.handle_bytes(Instant(now), conn, &frame);
        }
        if !queue.is_empty() {
            paused_steps += 1;
        }
        let from_r = r.pump(now);
        peak_writes = peak_writes.max(r.core.write_bytes_in_flight());
        for (c, bytes) in from_r {
            s.core.handle_bytes(Instant(now), c, &bytes);
        }
        r.answer_writes(now, 1);
        let quiet = queue.is_empty() && r.held_writes.is_empty();
        if quiet && s.up_to_date(conn).0 && r.up_to_date(conn).0 {
            break;
        }
    }
    assert!(s.up_to_date(conn).0, "S settles");
    all_arrived(&s, &r);
    assert!(paused_steps > 0, "R's disk was behind: it stopped reading");
    let largest = payloads(&s, conn).into_iter().max().unwrap_or(0);
    // One frame read past the bound: its document and the sync state beside it.
    assert!(
        peak_writes <= READ_BOUND + largest + 1024,
        "{peak_writes} bytes of writes in flight at R"
    );
    // What waits for R to read is what S's window let out, never the whole set.
    let total: usize = payloads(&s, conn).iter().sum();
    assert!(
        peak_queue <= bound(&s, conn) + 4 * 1024 && peak_queue < total / 2,
        "{peak_queue} bytes queued towards R (all notes: {total})"
    );
}

#[test]
fn a_resume_answer_larger_than_the_window_completes() {
    // HS-SYNC-15, HS-RESUME-3, HS-SYNC-14: S's answer to R's Resume fills the window, and S's
    // Resumed waits for the rest of it; R, still waiting for that Resumed, sends its Held once a
    // window's worth of bytes is unacknowledged, so the answer goes on instead of stalling.
    let log = |seed: u8| Startup {
        log_epoch: 1000 + u64::from(seed),
        ..Startup::default()
    };
    let mut s = Device::configured(3, log(3), |c| c.send_window = WINDOW);
    let mut r = Device::configured(2, log(2), |c| c.send_window = WINDOW);
    let mut now = 1;
    for i in 0..DOCS {
        s.edit(now, &note(i), "empty");
    }
    s.pump(now);
    let first = ConnId(1);
    connect(now, &mut s, &mut r, first);
    run(&mut now, &mut s, &mut r, first);
    // Each side tells the other where it is (Synced), and keeps the other's cursor.
    now += humansync_protocol::limits::SYNCED_INTERVAL_MS;
    s.core.handle_timeout(Instant(now));
    r.core.handle_timeout(Instant(now));
    run(&mut now, &mut s, &mut r, first);
    assert!(r.cursors_saved >= 1, "R keeps S's cursor");
    two_devices::close(now, &mut s, &mut r, first);

    // Offline, S changes every note by ~2,000 characters: more than the window.
    for i in 0..DOCS {
        s.edit(now, &note(i), &text(i));
    }
    s.pump(now);
    let conn = ConnId(2);
    connect(now, &mut s, &mut r, conn);
    let peak = run(&mut now, &mut s, &mut r, conn);

    let position = |m: &dyn Fn(&Message) -> bool, d: &Device| {
        d.messages.iter().position(|(c, msg)| *c == conn && m(msg))
    };
    let changes = s
        .messages
        .iter()
        .filter(|(c, m)| *c == conn && matches!(m, Message::DocChanges { .. }))
        .count();
    assert_eq!(changes, DOCS, "the answer is one DocChanges per note");
    assert!(
        peak >= WINDOW && peak <= bound(&s, conn),
        "the window bound it: peak {peak}"
    );
    let resumed = position(&|m| matches!(m, Message::Resumed { .. }), &s).expect("S's Resumed");
    let last_changes = s
        .messages
        .iter()
        .rposition(|(c, m)| *c == conn && matches!(m, Message::DocChanges { .. }))
        .expect("changes");
    assert!(resumed > last_changes, "S's Resumed follows its whole answer");
    assert!(s.up_to_date(conn).0 && r.up_to_date(conn).0, "both settle");
    all_arrived(&s, &r);
}

#[test]
fn a_sender_loading_from_its_disk_keeps_the_window_and_loads_each_note_about_once() {
    // HS-SYNC-15: with a cache of 4 documents every send loads its note first; a send is started
    // only with room for it and those already loading (at the average message), so few loaded
    // bytes turn out not to fit and are loaded again.
    let mut now = 1;
    let mut s = Device::configured(3, Startup::default(), |c| {
        c.send_window = WINDOW;
        c.cache_capacity = 4;
        c.max_inflight_loads = 8;
    });
    let mut r = device(2);
    for i in 0..DOCS {
        s.edit(now, &note(i), &text(i));
        s.pump(now);
    }
    let loads_before = s.core.io_counts().loads;
    let conn = ConnId(1);
    r.disk_paused = true;
    connect(now, &mut s, &mut r, conn);
    let mut peak = run(&mut now, &mut s, &mut r, conn);
    assert!(s.core.send_window(conn).expect("session").1 > 0, "sends wait");
    peak = peak.max(catch_up(&mut now, &mut s, &mut r, conn));
    assert!(s.up_to_date(conn).0, "S settles");
    assert!(peak <= bound(&s, conn), "peak {peak}");
    assert_eq!(payloads(&s, conn).len(), DOCS, "each note sent once");
    let loads = s.core.io_counts().loads - loads_before;
    // At most the 4 cached notes go without a load; a handful may be loaded twice.
    assert!(
        (DOCS as u64 - 4..=DOCS as u64 + 8).contains(&loads),
        "{loads} loads to send {DOCS} notes"
    );
    all_arrived(&s, &r);
}
