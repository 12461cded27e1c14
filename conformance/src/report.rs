//! Verdicts and the report, h2spec / Autobahn style: per case Pass, Fail (a
//! MUST not met), Non-strict (a SHOULD not met) or Skipped (with the reason),
//! grouped by requirement id.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// The verdict on one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "detail", rename_all = "snake_case")]
pub enum Verdict {
    /// The implementation behaves as the vector says.
    Pass,
    /// A MUST is not met: what differed.
    Fail(String),
    /// A SHOULD is not met: what differed.
    NonStrict(String),
    /// Not checked, and why.
    Skipped(String),
}

/// The verdict on one case, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseReport {
    /// The vector file name.
    pub file: String,
    /// The case id.
    pub id: String,
    /// The case kind.
    pub kind: String,
    /// The requirement ids it checks.
    pub requirements: Vec<String>,
    /// The case description.
    pub description: String,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Counts of verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Pass.
    pub passed: usize,
    /// Fail.
    pub failed: usize,
    /// Non-strict.
    pub non_strict: usize,
    /// Skipped.
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail(_) => self.failed += 1,
            Verdict::NonStrict(_) => self.non_strict += 1,
            Verdict::Skipped(_) => self.skipped += 1,
        }
    }

    /// All cases counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.non_strict + self.skipped
    }

    /// The verdict of a requirement from its cases' counts: `fail` if any failed, else
    /// `non_strict` if any was non-strict, else `pass` if any passed, else `skipped`.
    pub fn verdict(&self) -> &'static str {
        if self.failed > 0 {
            "fail"
        } else if self.non_strict > 0 {
            "non_strict"
        } else if self.passed > 0 {
            "pass"
        } else {
            "skipped"
        }
    }
}

/// The result of running every vector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// One entry per case, in file and case order.
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// Counts over all cases (each case once).
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for case in &self.cases {
            counts.add(&case.verdict);
        }
        counts
    }

    /// Counts per requirement id (a case counts under each of its ids), ids in natural order.
    pub fn by_requirement(&self) -> Vec<(String, Counts)> {
        let mut map: BTreeMap<(String, u32, String), Counts> = BTreeMap::new();
        for case in &self.cases {
            for req in &case.requirements {
                map.entry(requirement_key(req)).or_default().add(&case.verdict);
            }
        }
        map.into_iter()
            .map(|((_, _, req), counts)| (req, counts))
            .collect()
    }

    /// True when no MUST failed.
    pub fn ok(&self) -> bool {
        self.counts().failed == 0
    }

    /// The summary line: exactly `N passed, N failed, N skipped`.
    pub fn summary_line(&self) -> String {
        let c = self.counts();
        format!("{} passed, {} failed, {} skipped", c.passed, c.failed, c.skipped)
    }

    /// The human-readable table: one row per requirement id with its counts,
    /// every case that did not pass listed under it (all cases with `verbose`),
    /// then the summary line.
    pub fn table(&self, verbose: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<18} {:<10} {:>5} {:>5} {:>10} {:>7}",
            "requirement", "verdict", "pass", "fail", "non-strict", "skipped"
        );
        for (req, counts) in self.by_requirement() {
            let _ = writeln!(
                out,
                "{:<18} {:<10} {:>5} {:>5} {:>10} {:>7}",
                req,
                counts.verdict().to_uppercase(),
                counts.passed,
                counts.failed,
                counts.non_strict,
                counts.skipped
            );
            for case in self.cases.iter().filter(|c| c.requirements.contains(&req)) {
                let (mark, detail) = match &case.verdict {
                    Verdict::Pass if !verbose => continue,
                    Verdict::Pass => ("ok  ", String::new()),
                    Verdict::Fail(d) => ("FAIL", format!(": {d}")),
                    Verdict::NonStrict(d) => ("NON-STRICT", format!(": {d}")),
                    Verdict::Skipped(d) => ("skip", format!(": {d}")),
                };
                let _ = writeln!(
                    out,
                    "    {mark} {} {} ({}){detail}",
                    case.file, case.id, case.description
                );
            }
        }
        let counts = self.counts();
        if counts.non_strict > 0 {
            let _ = writeln!(
                out,
                "{} non-strict (a SHOULD not met; does not fail the run)",
                counts.non_strict
            );
        }
        let _ = writeln!(out, "{}", self.summary_line());
        out
    }

    /// The machine-readable report: summary, per-requirement counts and every case.
    pub fn to_json(&self) -> serde_json::Value {
        let requirements: serde_json::Map<String, serde_json::Value> = self
            .by_requirement()
            .into_iter()
            .map(|(req, counts)| {
                // Counts is four integers: serialising cannot fail.
                let mut value = serde_json::to_value(counts).unwrap_or_default();
                value["verdict"] = counts.verdict().into();
                (req, value)
            })
            .collect();
        serde_json::json!({
            "summary": self.counts(),
            "summary_line": self.summary_line(),
            "requirements": requirements,
            "cases": self.cases,
        })
    }
}

/// `HS-RECON-12` → (`HS-RECON-`, 12, `HS-RECON-12`), so ids sort naturally.
fn requirement_key(req: &str) -> (String, u32, String) {
    let prefix = req.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = req[prefix.len()..].parse().unwrap_or(0);
    (prefix.to_owned(), number, req.to_owned())
}
