//! Runs every committed vector against this workspace's implementation, checks
//! that the committed files are exactly what the generator produces, and that
//! the runner's verdicts can fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use humansync_conformance::format::{Expect, Level, VectorFile, render};
use humansync_conformance::{Report, Verdict, generate, vectors};
use serde_json::json;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn report() -> Report {
    vectors::run(&dir()).expect("the committed vectors load")
}

#[test]
fn every_vector_passes() {
    let report = report();
    let counts = report.counts();
    let failures: Vec<String> = report
        .cases
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::Pass | Verdict::Skipped(_)))
        .map(|c| format!("{} {}: {:?}", c.file, c.id, c.verdict))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(report.ok());
    assert_eq!(counts.failed, 0);
    assert_eq!(
        counts.non_strict, 0,
        "the reference implementation meets its own SHOULDs"
    );
    // Only cases that need a live server are skipped (peer mode does not exist yet).
    assert_eq!(counts.skipped, 3);
    assert!(counts.passed >= 340, "{} cases passed", counts.passed);
    assert_eq!(
        report.summary_line(),
        format!("{} passed, 0 failed, 3 skipped", counts.passed)
    );
}

#[test]
fn every_file_and_area_is_covered() {
    // Counts per file, so a file that silently lost its cases fails here.
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    for case in &report().cases {
        *per_file.entry(case.file.clone()).or_default() += 1;
    }
    let expected_min = [
        ("automerge_bytes.json", 20),
        ("device_ids.json", 15),
        ("digests.json", 15),
        ("doc_ids.json", 35),
        ("frames.json", 20),
        ("invitations.json", 25),
        ("messages.json", 100),
        ("opaque.json", 9),
        ("pairing.json", 60),
        ("reconciliation.json", 25),
        ("registry.json", 35),
        ("transcripts.json", 20),
    ];
    for (file, min) in expected_min {
        let n = per_file.get(file).copied().unwrap_or(0);
        assert!(n >= min, "{file}: {n} cases, expected at least {min}");
    }
    assert_eq!(per_file.len(), expected_min.len(), "{per_file:?}");
    let reqs: Vec<String> = report().by_requirement().into_iter().map(|(r, _)| r).collect();
    for id in [
        "HS-FRAME-1",
        "HS-FRAME-2",
        "HS-FRAME-3",
        "HS-MSG-1",
        "HS-MSG-2",
        "HS-ID-1",
        "HS-ID-2",
        "HS-DOC-1",
        "HS-DOC-2",
        "HS-DOC-3",
        "HS-REG-1",
        "HS-REG-4",
        "HS-GATE-2",
        "HS-GATE-3",
        "HS-VER-2",
        "HS-VER-3",
        "HS-HTTP-2",
        "HS-HTTP-3",
        "HS-PAIR-4",
        "HS-RECON-1",
        "HS-RECON-4",
        "HS-RECON-5",
        "HS-SYNC-12",
    ] {
        assert!(reqs.iter().any(|r| r == id), "no vector cites {id}");
    }
}

#[test]
fn committed_files_equal_a_fresh_generation() {
    // The committed files are the contract; regenerating must reproduce them byte for byte.
    let first = generate::render_all();
    let second = generate::render_all();
    assert_eq!(first, second, "generation is not deterministic");
    for (name, text) in &first {
        let committed = std::fs::read_to_string(dir().join(name)).expect("committed file");
        assert!(
            committed == *text,
            "{name} differs from a fresh generation: run `cargo run -p humansync-conformance -- generate`"
        );
    }
    let files = vectors::files(&dir()).expect("files");
    assert_eq!(files.len(), first.len(), "a stray or missing file in vectors/");
}

#[test]
fn every_file_stays_under_400_lines_and_parses_back() {
    for (name, file) in generate::all() {
        let text = render(&file);
        assert!(
            text.lines().count() < 400,
            "{name} has {} lines",
            text.lines().count()
        );
        let parsed: VectorFile = serde_json::from_str(&text).expect("rendered file parses");
        assert_eq!(parsed, file, "{name} does not round-trip");
    }
}

fn one_case(file: &str, id: &str) -> VectorFile {
    let mut f = vectors::load(&dir().join(file)).expect("load");
    f.cases.retain(|c| c.id == id);
    assert_eq!(f.cases.len(), 1, "{file} {id}");
    f
}

fn verdict_of(file: &VectorFile) -> Verdict {
    let mut report = Report::default();
    vectors::run_file("mutated.json", file, &mut report);
    report.cases[0].verdict.clone()
}

#[test]
fn the_runner_fails_wrong_expectations() {
    // A valid frame claimed invalid: Fail.
    let mut f = one_case("frames.json", "frame-001");
    f.cases[0].result = Expect::Invalid;
    assert!(matches!(verdict_of(&f), Verdict::Fail(_)));
    // A changed byte in the expected decoded value: Fail, naming the path.
    let mut f = one_case("messages.json", "msg-001");
    f.cases[0].expected.as_mut().expect("expected")["versions"] = json!([2]);
    match verdict_of(&f) {
        Verdict::Fail(detail) => assert!(detail.contains("$.versions[0]"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // An invalid message claimed valid: Fail.
    let mut f = one_case("messages.json", "msg-036");
    f.cases[0].result = Expect::Valid;
    assert!(matches!(verdict_of(&f), Verdict::Fail(_)));
    // The wrong close code for an oversized frame: Fail.
    let mut f = one_case("frames.json", "frame-011");
    f.cases[0].expected = Some(json!({"messages": [], "close_code": 4}));
    assert!(matches!(verdict_of(&f), Verdict::Fail(_)));
    // A transcript expecting a Welcome that the core does not send: Fail.
    let mut f = one_case("transcripts.json", "tx-001");
    f.cases[0].expected.as_mut().expect("expected")["steps"][0]["admission"] = json!({"verdict": "admit"});
    assert!(matches!(verdict_of(&f), Verdict::Fail(_)));
    // A reconciliation that misses a difference: Fail.
    let mut f = one_case("reconciliation.json", "recon-012");
    f.cases[0].expected.as_mut().expect("expected")["differences"][0]["outcome"] = json!("a_to_b");
    assert!(matches!(verdict_of(&f), Verdict::Fail(_)));
}

#[test]
fn should_cases_are_non_strict_and_others_skip_with_a_reason() {
    let mut f = one_case("reconciliation.json", "recon-001");
    assert_eq!(f.cases[0].level, Level::Should);
    f.cases[0].expected = Some(json!({"key": "00"}));
    assert!(matches!(verdict_of(&f), Verdict::NonStrict(_)));
    let mut f = one_case("frames.json", "frame-001");
    f.cases[0].kind = "from_the_future".to_owned();
    assert_eq!(
        verdict_of(&f),
        Verdict::Skipped("unknown kind `from_the_future`".to_owned())
    );
    let f = one_case("pairing.json", "pair-033");
    assert!(matches!(verdict_of(&f), Verdict::Skipped(reason) if reason.contains("server")));
    // An acceptable case passes whatever the implementation decides.
    let f = one_case("device_ids.json", "devid-014");
    assert_eq!(f.cases[0].result, Expect::Acceptable);
    assert_eq!(verdict_of(&f), Verdict::Pass);
}
