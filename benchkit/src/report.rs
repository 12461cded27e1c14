//! Collects samples and prints the results table: median, min–max, target.

use std::fmt::Write;

/// One measured quantity.
pub struct Row {
    /// The benchmark's number in BENCHMARKS.md ("1" … "8").
    pub bench: &'static str,
    /// What is measured.
    pub metric: String,
    /// The unit printed after the median.
    pub unit: &'static str,
    /// The target as text (empty when there is none).
    pub target: String,
    /// One value per run (or per measurement).
    pub samples: Vec<f64>,
}

/// All rows, in the order first recorded.
#[derive(Default)]
pub struct Report {
    /// The rows.
    pub rows: Vec<Row>,
}

impl Report {
    /// Adds a sample to the row (bench, metric), creating it.
    pub fn add(&mut self, bench: &'static str, metric: &str, unit: &'static str, target: &str, value: f64) {
        if let Some(row) = self
            .rows
            .iter_mut()
            .find(|r| r.bench == bench && r.metric == metric)
        {
            row.samples.push(value);
            return;
        }
        self.rows.push(Row {
            bench,
            metric: metric.to_owned(),
            unit,
            target: target.to_owned(),
            samples: vec![value],
        });
    }

    /// The table in Markdown.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "| # | metric | median | min – max | runs | target |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |");
        for r in &self.rows {
            let (median, min, max) = stats(&r.samples);
            let _ = writeln!(
                out,
                "| {} | {} | {} {} | {} – {} | {} | {} |",
                r.bench,
                r.metric,
                fmt(median),
                r.unit,
                fmt(min),
                fmt(max),
                r.samples.len(),
                r.target
            );
        }
        out
    }
}

/// (median, min, max).
pub fn stats(samples: &[f64]) -> (f64, f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    (median, s[0], s[n - 1])
}

/// The `p`-th percentile (0–100) by nearest rank.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
