//! The `humansync-conformance` binary: exit codes and output formats.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_humansync-conformance"))
}

fn vectors_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .display()
        .to_string()
}

#[test]
fn vectors_passes_and_prints_the_summary_line() {
    let out = bin()
        .args(["vectors", "--dir", &vectors_dir()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let last = stdout.lines().last().expect("output");
    let parts: Vec<&str> = last.split(", ").collect();
    assert_eq!(parts.len(), 3, "{last}");
    assert!(
        parts[0].ends_with(" passed") && parts[1] == "0 failed" && parts[2] == "3 skipped",
        "{last}"
    );
    assert!(stdout.contains("HS-FRAME-2"));
}

#[test]
fn vectors_json_is_machine_readable() {
    let out = bin()
        .args(["vectors", "--json", "--dir", &vectors_dir()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["summary"]["failed"], 0);
    assert_eq!(v["summary"]["skipped"], 3);
    assert!(v["requirements"]["HS-GATE-2"]["passed"].as_u64().unwrap_or(0) > 5);
}

#[test]
fn json_out_writes_the_machine_report_next_to_the_table() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("report.json");
    let out = bin()
        .args(["vectors", "--dir", &vectors_dir(), "--json-out"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        stdout
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("requirement")),
        "{stdout}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("written")).expect("json");
    assert_eq!(v["requirements"]["HS-GATE-2"]["verdict"], "pass");
    assert_eq!(v["summary"]["failed"], 0);
}

#[test]
fn a_failing_vector_makes_the_run_exit_non_zero() {
    let dir = std::env::temp_dir().join(format!("hs-conformance-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let text = std::fs::read_to_string(Path::new(&vectors_dir()).join("frames.json")).expect("read");
    // Claim the first valid frame is invalid.
    let broken = text.replacen("\"result\":\"valid\"", "\"result\":\"invalid\"", 1);
    assert_ne!(broken, text);
    std::fs::write(dir.join("frames.json"), broken).expect("write");
    let out = bin().args(["vectors", "--dir"]).arg(&dir).output().expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(stdout.contains("FAIL frames.json frame-001"), "{stdout}");
    assert!(stdout.trim_end().ends_with("1 failed, 0 skipped"), "{stdout}");
}

#[test]
fn peer_mode_without_a_target_cannot_run() {
    // Nothing to dial: exit 2 (cannot run), not 0 (passed) or 1 (a MUST failed).
    let out = bin().args(["peer"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(stderr.contains("no node id / address given"), "{stderr}");
    // A malformed address or node id is a usage error, also exit 2.
    let out = bin().args(["peer", "--addr", "x"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["peer", "--node-id", "zz", "--addr", "127.0.0.1:1"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_missing_directory_is_an_error_not_a_pass() {
    let out = bin()
        .args(["vectors", "--dir", "/nonexistent/vectors"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
