//! A timeline of one sync for finding where wall time goes (`HS_BENCH_TRACE=1`): the first time
//! each event kind and each waited-for condition was seen, in ms since the sync was requested,
//! printed on stderr. Off unless the variable is set; it only observes (events and the status
//! the wait already polls), so a traced run moves the same bytes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use humansync::{Event, Node, Origin};
use tokio::sync::broadcast::error::RecvError;

/// True when `HS_BENCH_TRACE` is set.
pub fn enabled() -> bool {
    std::env::var_os("HS_BENCH_TRACE").is_some()
}

/// First sightings, by label, in ms since `start`.
#[derive(Debug, Clone)]
pub struct Timeline {
    start: Instant,
    marks: Arc<Mutex<BTreeMap<String, (f64, u64)>>>,
}

impl Timeline {
    /// A timeline starting now, recording `node`'s events in the background.
    pub fn start(node: &Node) -> Timeline {
        let timeline = Timeline {
            start: Instant::now(),
            marks: Arc::default(),
        };
        let mut events = node.events();
        let t = timeline.clone();
        tokio::spawn(async move {
            let mut remote = 0u64;
            loop {
                match events.recv().await {
                    Ok(e) => {
                        let what = label(&e);
                        if what == REMOTE {
                            // Every 100th too: whether documents arrive at a steady rate or in
                            // bursts with waits between them.
                            remote += 1;
                            if remote.is_multiple_of(100) {
                                t.mark(&format!("{REMOTE} #{remote}"));
                            }
                        }
                        t.mark(&what);
                    }
                    Err(RecvError::Lagged(n)) => t.mark(&format!("events lagged ({n})")),
                    Err(RecvError::Closed) => return,
                }
            }
        });
        timeline
    }

    /// Records `what` (the first time and how many times it was seen).
    pub fn mark(&self, what: &str) {
        let ms = self.start.elapsed().as_secs_f64() * 1e3;
        let mut marks = self.marks.lock().expect("not poisoned");
        let entry = marks.entry(what.to_owned()).or_insert((ms, 0));
        entry.1 += 1;
    }

    /// Prints the marks on stderr, earliest first.
    pub fn print(&self, title: &str) {
        let marks = self.marks.lock().expect("not poisoned");
        let mut rows: Vec<_> = marks.iter().collect();
        rows.sort_by(|a, b| a.1.0.total_cmp(&b.1.0));
        eprintln!("timeline {title}:");
        for (what, (ms, n)) in rows {
            eprintln!("  {ms:9.2} ms  {what} (×{n})");
        }
    }
}

/// The label of a document changed by a peer.
const REMOTE: &str = "event DocChanged remote";

fn label(e: &Event) -> String {
    match e {
        Event::DocChanged {
            origin: Origin::Remote(_),
            ..
        } => REMOTE.into(),
        Event::DocChanged { .. } => "event DocChanged local".into(),
        other => {
            let text = format!("{other:?}");
            let name = text.split(['(', ' ', '{']).next().unwrap_or("?").to_owned();
            format!("event {name}")
        }
    }
}
