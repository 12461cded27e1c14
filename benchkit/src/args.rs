//! The command line every benchmark binary takes: `--quick`, `--runs N`, `--docs N`,
//! `--only 1,2` (anything else, such as the `--bench` that `cargo bench` passes, is ignored).

use std::collections::BTreeSet;

/// Parsed arguments.
#[derive(Debug, Clone, Default)]
pub struct Args {
    raw: Vec<String>,
}

impl Args {
    /// The process's arguments (without the program name).
    pub fn from_env() -> Args {
        Args {
            raw: std::env::args().skip(1).collect(),
        }
    }

    /// True if `flag` (e.g. `--quick`) was given.
    pub fn flag(&self, flag: &str) -> bool {
        self.raw.iter().any(|a| a == flag)
    }

    /// The word after `name` (e.g. `--runs 3` → "3").
    pub fn value(&self, name: &str) -> Option<&str> {
        let i = self.raw.iter().position(|a| a == name)?;
        self.raw.get(i + 1).map(String::as_str)
    }

    /// `--quick`: the CI size, asserting counts only.
    pub fn quick(&self) -> bool {
        self.flag("--quick")
    }

    /// The number after `name`, or `default`; panics on a malformed number.
    pub fn number(&self, name: &str, default: usize) -> usize {
        self.value(name)
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} takes a number, not {v:?}"))
            })
            .unwrap_or(default)
    }

    /// The benchmarks picked with `--only 1,4`, or `all`.
    pub fn only(&self, all: impl IntoIterator<Item = u32>) -> BTreeSet<u32> {
        match self.value("--only") {
            Some(list) => list
                .split(',')
                .map(|n| {
                    n.trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("--only 1,2: not {n:?}"))
                })
                .collect(),
            None => all.into_iter().collect(),
        }
    }
}
