//! Checks one case against this workspace's protocol and sansio crates.
//!
//! Each kind has a checker that feeds the case's input to the implementation
//! and reports what it observed: accepted or rejected, and the observable value
//! (the decoded value, or the close code / HTTP answer of a rejection). The
//! verdict compares that with the case's `result` and `expected`.

mod automerge_bytes;
mod digests;
mod ids;
mod invitations;
pub(crate) mod opaque;
mod pairing;
pub(crate) mod recon;
mod registry;
pub(crate) mod transcript;
mod wire;

use serde_json::Value;

use crate::format::{Case, Expect, Level};
use crate::report::Verdict;

/// What the implementation did with a case's input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observed {
    /// True if it accepted the input.
    pub(crate) accepted: bool,
    /// What it produced: compared with `expected` when the case has one.
    pub(crate) value: Value,
}

impl Observed {
    pub(crate) fn accept(value: Value) -> Observed {
        Observed {
            accepted: true,
            value,
        }
    }

    pub(crate) fn reject(value: Value) -> Observed {
        Observed {
            accepted: false,
            value,
        }
    }
}

/// A checker: the observation, or why the case itself is unusable.
type Checker = fn(&Case) -> Result<Observed, String>;

fn checker(kind: &str) -> Option<Checker> {
    Some(match kind {
        "frames" => wire::frames,
        "automerge_saved" => automerge_bytes::saved,
        "automerge_sync_message" => automerge_bytes::sync_message,
        "frame_header" => wire::frame_header,
        "message" => wire::message,
        "doc_id" => ids::doc_id,
        "device_id" => ids::device_id,
        "signed_record" => registry::signed_record,
        "registry_view" => registry::view,
        "admission" => registry::admission,
        "pair_request" => pairing::pair_request,
        "pair_decision" => pairing::pair_decision,
        "auth_header" => pairing::auth_header,
        "invitation_link" => invitations::invitation_link,
        "invitation_redeem" => invitations::invitation_redeem,
        "login_context" => invitations::login_context,
        "opaque_auth_header" => invitations::opaque_auth_header,
        "opaque_registration" => opaque::registration,
        "opaque_login" => opaque::login,
        "heads_digest" => digests::heads_digest,
        "item_fingerprint" => digests::item_fingerprint,
        "set_summary" => digests::set_summary,
        "separator" => recon::separator,
        "reconcile" => recon::reconcile,
        "reconcile_transcript" => recon::transcript,
        "reconcile_reply" => recon::reply,
        "acceptor_transcript" => transcript::acceptor,
        _ => return None,
    })
}

/// The verdict on one case.
pub(crate) fn verdict(case: &Case) -> Verdict {
    if let Some(what) = &case.requires {
        return Verdict::Skipped(format!(
            "needs a live {what}: the vectors runner checks libraries only (HTTP server behaviour is the server's to test)"
        ));
    }
    let Some(check) = checker(&case.kind) else {
        return Verdict::Skipped(format!("unknown kind `{}`", case.kind));
    };
    let observed = match check(case) {
        Ok(observed) => observed,
        Err(e) => return Verdict::Fail(format!("unusable vector: {e}")),
    };
    let mismatch = compare(case, &observed);
    match (mismatch, case.level) {
        (None, _) => Verdict::Pass,
        (Some(why), Level::Must) => Verdict::Fail(why),
        (Some(why), Level::Should) => Verdict::NonStrict(why),
    }
}

/// Why the observation does not match the case, if it does not.
fn compare(case: &Case, observed: &Observed) -> Option<String> {
    match (case.result, observed.accepted) {
        (Expect::Acceptable, _) => return None,
        (Expect::Valid, false) => return Some(format!("rejected a valid input: {}", observed.value)),
        (Expect::Invalid, true) => return Some(format!("accepted an invalid input as {}", observed.value)),
        _ => {}
    }
    let expected = case.expected.as_ref()?;
    first_difference(expected, &observed.value, "$").map(|d| format!("expected value differs at {d}"))
}

/// The path of the first difference between two JSON values, with both sides.
pub(crate) fn first_difference(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => {
                        if let Some(d) = first_difference(ev, av, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{path}.{k}: missing")),
                }
            }
            a.keys()
                .find(|k| !e.contains_key(*k))
                .map(|k| format!("{path}.{k}: unexpected member"))
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                if let Some(d) = first_difference(ev, av, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (e.len() != a.len()).then(|| format!("{path}: {} elements expected, got {}", e.len(), a.len()))
        }
        _ if expected == actual => None,
        _ => Some(format!(
            "{path}: expected {}, got {}",
            short(expected),
            short(actual)
        )),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end < s.len() {
        format!("{}…", &s[..end])
    } else {
        s
    }
}
