//! The vector file format, `humansync-vectors/1` (see conformance/README.md).
//!
//! A file is `{ "schema", "description", "cases": [..] }`; a case names its
//! `kind` (how to consume it), the requirement ids it checks, its input fields
//! (which depend on the kind) and the expected `result`, with the decoded value
//! in `expected` or a short machine `reason`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The schema tag every vector file carries.
pub const SCHEMA: &str = "humansync-vectors/1";

/// One vector file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorFile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// What the file covers.
    pub description: String,
    /// The cases, in id order.
    pub cases: Vec<Case>,
}

/// The expected outcome of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The input MUST be accepted and yield `expected`.
    Valid,
    /// The input MUST be rejected (`reason` says why).
    Invalid,
    /// Either answer conforms: SPEC.md leaves it open (`reason` says what is at stake).
    Acceptable,
}

/// How strong the requirement behind a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Level {
    /// A MUST: a mismatch fails the run.
    #[default]
    #[serde(rename = "MUST")]
    Must,
    /// A SHOULD: a mismatch is reported as non-strict and does not fail the run.
    #[serde(rename = "SHOULD")]
    Should,
}

impl Level {
    fn is_must(&self) -> bool {
        *self == Level::Must
    }
}

/// One test vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Unique within the file, e.g. `frame-001`.
    pub id: String,
    /// How to consume the case: which input fields exist and what `expected` holds.
    pub kind: String,
    /// MUST (default, omitted) or SHOULD.
    #[serde(default, skip_serializing_if = "Level::is_must")]
    pub level: Level,
    /// Requirement ids of DESIGN.md / SPEC.md the case checks.
    pub requirements: Vec<String>,
    /// What the case is about, for humans.
    pub description: String,
    /// Set when the case can only be checked against a live node (e.g. `"server"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<String>,
    /// The kind-specific input fields (`input`, `text`, `anchor`, ...).
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
    /// valid, invalid or acceptable.
    pub result: Expect,
    /// A short machine reason for invalid and acceptable cases (informative, see the README).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The decoded value or observable behaviour, where the kind defines one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
}

impl Case {
    /// A MUST case with no input fields yet.
    pub fn new(id: String, kind: &str, requirements: &[&str], description: &str, result: Expect) -> Case {
        Case {
            id,
            kind: kind.to_owned(),
            level: Level::Must,
            requirements: requirements.iter().map(|r| (*r).to_owned()).collect(),
            description: description.to_owned(),
            requires: None,
            fields: BTreeMap::new(),
            result,
            reason: None,
            expected: None,
        }
    }

    /// Adds an input field.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Case {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    /// Sets the reason.
    pub fn because(mut self, reason: &str) -> Case {
        self.reason = Some(reason.to_owned());
        self
    }

    /// Sets the expected value.
    pub fn expect(mut self, expected: Value) -> Case {
        self.expected = Some(expected);
        self
    }

    /// Marks the case SHOULD.
    pub fn should(mut self) -> Case {
        self.level = Level::Should;
        self
    }

    /// Marks the case as needing a live node.
    pub fn requires(mut self, what: &str) -> Case {
        self.requires = Some(what.to_owned());
        self
    }

    /// A string input field.
    pub fn str_field(&self, name: &str) -> Result<&str, String> {
        self.fields
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("field `{name}` missing or not a string"))
    }

    /// A hex input field, decoded.
    pub fn hex_field(&self, name: &str) -> Result<Vec<u8>, String> {
        hex::decode(self.str_field(name)?).map_err(|e| format!("field `{name}` is not hex: {e}"))
    }

    /// An unsigned integer input field.
    pub fn u64_field(&self, name: &str) -> Result<u64, String> {
        self.fields
            .get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("field `{name}` missing or not an unsigned integer"))
    }

    /// Any input field.
    pub fn field(&self, name: &str) -> Result<&Value, String> {
        self.fields
            .get(name)
            .ok_or_else(|| format!("field `{name}` missing"))
    }
}

/// Renders a file: the header pretty, then one case per line, so that a changed
/// case is a one-line diff and files stay short.
pub fn render(file: &VectorFile) -> String {
    let mut out = String::new();
    out.push_str("{\n");
    out.push_str(&format!("  \"schema\": {},\n", json_string(&file.schema)));
    out.push_str(&format!(
        "  \"description\": {},\n",
        json_string(&file.description)
    ));
    out.push_str("  \"cases\": [\n");
    for (i, case) in file.cases.iter().enumerate() {
        // A Case is strings, numbers and JSON values with string keys: serialising cannot fail.
        let line = serde_json::to_string(case).unwrap_or_default();
        let comma = if i + 1 == file.cases.len() { "" } else { "," };
        out.push_str(&format!("    {line}{comma}\n"));
    }
    out.push_str("  ]\n}\n");
    out
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}
