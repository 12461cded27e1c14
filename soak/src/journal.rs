//! The run's record: one JSON line per fault, check and violation (`soak.jsonl` in the work
//! directory), counters for the report, and the violations that fail the run.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

/// The journal of one run.
#[derive(Debug)]
pub struct Journal {
    start: Instant,
    file: Option<File>,
    /// Faults applied, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Workload requests by outcome (`create ok`, `append err io`, …).
    pub ops: BTreeMap<String, u64>,
    /// Acknowledged writes checked present (or absent, for deletions) on a device.
    pub acked_checks: u64,
    /// Up-to-date claims checked against the other device's content.
    pub claim_checks: u64,
    /// Convergence times after each heal, ms (documents identical and every peer up to date).
    pub convergence_ms: Vec<u64>,
    /// Times until every attachment's bytes were on every device, after each heal, ms.
    pub blob_convergence_ms: Vec<u64>,
    /// Documents quarantined (`doc-corrupt` events in the logs).
    pub quarantines: u64,
    /// Violations: (soak ms, what).
    pub violations: Vec<(u64, String)>,
    /// Violations of a known, reported class (`soak/known-issues.txt`): (soak ms, class, what).
    pub known: Vec<(u64, String, String)>,
}

/// The known-issue classes (`soak/known-issues.txt`): reported and open.
pub const KNOWN_ISSUES: &str = include_str!("../known-issues.txt");

/// Whether `class` is listed in [`KNOWN_ISSUES`].
pub fn is_known(class: &str) -> bool {
    KNOWN_ISSUES
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .any(|l| l.split_whitespace().next() == Some(class))
}

impl Journal {
    /// A journal writing to `path` (or nowhere).
    pub fn new(path: Option<&Path>) -> std::io::Result<Self> {
        Ok(Journal {
            start: Instant::now(),
            file: path.map(File::create).transpose()?,
            faults: BTreeMap::new(),
            ops: BTreeMap::new(),
            acked_checks: 0,
            claim_checks: 0,
            convergence_ms: Vec::new(),
            blob_convergence_ms: Vec::new(),
            quarantines: 0,
            violations: Vec::new(),
            known: Vec::new(),
        })
    }

    /// Soak time: ms since the run started.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Appends one record `{t_ms, type, …fields}`.
    pub fn record(&mut self, kind: &str, fields: Value) {
        let mut line = json!({ "t_ms": self.now_ms(), "type": kind });
        if let (Some(obj), Value::Object(more)) = (line.as_object_mut(), fields) {
            obj.extend(more);
        }
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "{line}");
        }
    }

    /// Records a fault as applied.
    pub fn fault(&mut self, kind: &str, detail: Value) {
        *self.faults.entry(kind.to_owned()).or_insert(0) += 1;
        self.record("fault", json!({ "kind": kind, "detail": detail }));
    }

    /// Records a workload outcome.
    pub fn op(&mut self, key: String) {
        *self.ops.entry(key).or_insert(0) += 1;
    }

    /// Records a violation (printed at once, and fails the run).
    pub fn violation(&mut self, what: impl Into<String>) {
        self.violation_of("invariant", what);
    }

    /// Records a violation of a class; a known class (see [`is_known`]) does not fail the run.
    pub fn violation_of(&mut self, class: &str, what: impl Into<String>) {
        let what = what.into();
        // The same violation seen again (a probe looking twice) is recorded once.
        if self.violations.iter().any(|(_, v)| *v == what) || self.known.iter().any(|(_, _, v)| *v == what) {
            return;
        }
        let t = self.now_ms();
        if is_known(class) {
            eprintln!("soak: KNOWN ({class}) at {:.1} s: {what}", t as f64 / 1000.0);
            self.record("known_violation", json!({ "class": class, "what": what }));
            self.known.push((t, class.to_owned(), what));
            return;
        }
        eprintln!("soak: VIOLATION at {:.1} s: {what}", t as f64 / 1000.0);
        self.record("violation", json!({ "what": what }));
        self.violations.push((t, what));
    }
}

/// (p50, max) of a list of durations, ms.
pub fn p50_max(values: &[u64]) -> Option<(u64, u64)> {
    let mut v = values.to_vec();
    v.sort_unstable();
    Some((*v.get(v.len().checked_sub(1)? / 2)?, *v.last()?))
}
