//! Loading vector files and running every case: [`run`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::check;
use crate::format::{SCHEMA, VectorFile};
use crate::report::{CaseReport, Report};

/// Why the vectors could not be run at all (as opposed to a case failing).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A file or the directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not a vector file.
    #[error("{path} is not a vector file: {reason}")]
    Format {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The directory holds no vector file.
    #[error("no *.json vector file in {0}")]
    Empty(PathBuf),
}

/// Reads one vector file, checking its schema tag and that case ids are unique.
pub fn load(path: &Path) -> Result<VectorFile, RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunError::Io {
        path: path.to_owned(),
        source,
    })?;
    let format = |reason: String| RunError::Format {
        path: path.to_owned(),
        reason,
    };
    let file: VectorFile = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    if file.schema != SCHEMA {
        return Err(format(format!(
            "schema is {:?}, expected {SCHEMA:?}",
            file.schema
        )));
    }
    let mut ids = BTreeSet::new();
    if let Some(dup) = file.cases.iter().find(|c| !ids.insert(c.id.as_str())) {
        return Err(format(format!("case id {} appears twice", dup.id)));
    }
    Ok(file)
}

/// The `*.json` files of `dir`, sorted by name.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    let io = |source| RunError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(RunError::Empty(dir.to_owned()));
    }
    Ok(paths)
}

/// Runs every case of every vector file in `dir` against this workspace's
/// protocol and sansio crates.
pub fn run(dir: &Path) -> Result<Report, RunError> {
    let mut report = Report::default();
    for path in files(dir)? {
        let file = load(&path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        run_file(&name, &file, &mut report);
    }
    Ok(report)
}

/// Runs the cases of one parsed file, appending to `report`.
pub fn run_file(name: &str, file: &VectorFile, report: &mut Report) {
    for case in &file.cases {
        report.cases.push(CaseReport {
            file: name.to_owned(),
            id: case.id.clone(),
            kind: case.kind.clone(),
            requirements: case.requirements.clone(),
            description: case.description.clone(),
            verdict: check::verdict(case),
        });
    }
}
