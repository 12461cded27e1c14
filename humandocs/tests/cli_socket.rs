//! The non-interactive interface end to end with the real binary: `run` serves the socket, every
//! other subcommand talks JSON to it; without a running app commands open the store directly;
//! the interactive app works from piped input.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_humandocs");

fn hd(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run humandocs")
}

/// Runs a command that must succeed and returns its JSON.
fn ok(data: &Path, args: &[&str]) -> Value {
    let out = hd(data, args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?} failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"))
}

/// Runs a command that must fail and returns its error code.
fn err(data: &Path, args: &[&str]) -> String {
    let out = hd(data, args);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    let v: Value = serde_json::from_slice(&out.stdout).expect("error JSON");
    v["error"]["code"].as_str().expect("code").to_owned()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data: &Path) -> Running {
    let child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args([
            "run",
            "--no-mdns",
            "--relay",
            "disabled",
            "--bind",
            "127.0.0.1",
            "--interval",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn run");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("humandocs.sock").exists() || hd(data, &["id"]).status.code() != Some(0) {
        assert!(Instant::now() < deadline, "the app did not start within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

#[test]
fn scripts_drive_the_running_app() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let mut app = start(&data);
    // A second app on the same directory is refused.
    let second = hd(
        &data,
        &["run", "--no-mdns", "--relay", "disabled", "--bind", "127.0.0.1"],
    );
    assert_eq!(second.status.code(), Some(1));

    let created = ok(&data, &["create", "--title", "Notes", "--body", "hello world"]);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["schema_version"], 1);
    let uuid = id.trim_start_matches("humandocs/doc-");
    assert_eq!(
        ok(&data, &["insert", uuid, "0", "oh, "])["body"],
        "oh, hello world"
    );
    assert_eq!(ok(&data, &["delete-text", &id, "0", "4"])["body"], "hello world");
    assert_eq!(
        ok(&data, &["append", &id, " and ünïcode"])["body"],
        "hello world and ünïcode"
    );
    assert_eq!(
        ok(&data, &["insert", &id, "23", "!"])["body"],
        "hello world and ünïcode!"
    );
    assert_eq!(ok(&data, &["set-title", &id, "Renamed"])["title"], "Renamed");
    assert_eq!(err(&data, &["insert", &id, "99", "x"]), "out_of_range");
    assert_eq!(err(&data, &["show", "not-an-id"]), "bad_id");
    assert_eq!(
        err(&data, &["show", "00000000-0000-4000-8000-000000000000"]),
        "not_found"
    );

    let file = dir.path().join("picture.png");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &bytes).expect("write");
    let a = ok(&data, &["attach", &id, file.to_str().expect("utf8")]);
    assert_eq!(
        (a["name"].as_str(), a["size"].as_u64(), a["type"].as_str()),
        (Some("picture.png"), Some(300_000), Some("image/png"))
    );
    let out = dir.path().join("out.png");
    ok(
        &data,
        &["save-attachment", &id, "picture.png", out.to_str().expect("utf8")],
    );
    assert_eq!(std::fs::read(&out).expect("read"), bytes);
    assert_eq!(
        err(&data, &["save-attachment", &id, "nope.png", "/tmp/x"]),
        "no_attachment"
    );
    let waited = ok(
        &data,
        &["wait-for", "--timeout", "10", "attachment", &id, "picture.png"],
    );
    assert_eq!(waited["satisfied"], true);
    assert_eq!(
        ok(&data, &["wait-for", "text", &id, "ünïcode"])["satisfied"],
        true
    );
    assert_eq!(
        err(&data, &["wait-for", "--timeout", "1", "peers", "1"]),
        "timeout"
    );

    let list = ok(&data, &["list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["title"], "Renamed");
    assert_eq!(list[0]["attachments"], 1);
    let status = ok(&data, &["status"]);
    assert_eq!(
        (status["paired"].as_bool(), status["docs"].as_u64()),
        (Some(false), Some(1))
    );
    assert_eq!(ok(&data, &["peers"]), serde_json::json!([]));
    let me = ok(&data, &["id"]);
    assert_eq!(me["id"], status["id"]);

    // watch streams events as JSON lines.
    let mut watch = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .arg("watch")
        .stdout(Stdio::piped())
        .spawn()
        .expect("watch");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(watch.stdout.take().expect("stdout")));
    assert!(lines.next().expect("line").expect("read").contains("watching"));
    ok(&data, &["append", &id, "."]);
    let event: Value = serde_json::from_str(&lines.next().expect("line").expect("read")).expect("json");
    assert_eq!(
        (event["event"].as_str(), event["id"].as_str()),
        (Some("doc-changed"), Some(id.as_str()))
    );
    let _ = watch.kill();
    let _ = watch.wait();

    ok(&data, &["delete", &id]);
    assert_eq!(err(&data, &["show", &id]), "not_found");
    assert_eq!(ok(&data, &["wait-for", "gone", &id])["satisfied"], true);
    assert_eq!(ok(&data, &["stop"])["stopping"], true);
    let status = app.0.wait().expect("wait");
    assert!(status.success(), "run exits 0 after stop");
    assert!(!data.join("humandocs.sock").exists(), "socket removed");
}

#[test]
fn without_a_running_app_commands_open_the_store() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path();
    let id = ok(data, &["create", "--title", "Offline", "--body", "first"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    ok(data, &["append", &id, " second"]);
    assert_eq!(ok(data, &["show", &id])["body"], "first second");
    assert_eq!(err(data, &["watch"]), "not_running");
    assert_eq!(err(data, &["wait-for", "doc", &id]), "not_running");
    // The running app then sees what was written directly.
    let _app = start(data);
    assert_eq!(ok(data, &["show", &id])["body"], "first second");
}

#[test]
fn a_person_uses_the_interactive_app() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(dir.path())
        .args(["shell", "--no-mdns", "--relay", "disabled", "--bind", "127.0.0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ui");
    // First run: skip pairing (empty URL), then use the app.
    let script = "\nnew Groceries\nappend milk, eggs\ninsert 0 buy \nlist\nstatus\nquit\n";
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("type");
    let out = child.wait_with_output().expect("ui exits");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ui failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Server URL"), "asks for the server: {text}");
    assert!(text.contains("buy milk, eggs"), "{text}");
    assert!(text.contains("1. Groceries"), "{text}");
    assert!(text.contains("not paired"), "status line: {text}");
    let list = ok(dir.path(), &["list"]);
    assert_eq!(list[0]["title"], "Groceries");
    // The second run does not ask again.
    let again = Command::new(BIN)
        .arg("--data")
        .arg(dir.path())
        .args(["shell", "--no-mdns", "--relay", "disabled", "--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .output()
        .expect("ui");
    assert!(!String::from_utf8_lossy(&again.stdout).contains("Server URL"));
}

#[test]
fn the_browser_app_serves_its_page_on_loopback_until_stopped() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(dir.path())
        .args([
            "ui",
            "--ui-port",
            "0",
            "--no-browser",
            "--no-mdns",
            "--relay",
            "disabled",
            "--bind",
            "127.0.0.1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the app");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the address line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    let addr = url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let get = |host: &str| {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        write!(s, "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    };
    let page = get(&addr);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<title>Humandocs</title>"), "{page}");
    assert!(
        get("attacker.example").starts_with("HTTP/1.1 403"),
        "DNS rebinding refused"
    );
    // The socket interface is there too, and `stop` ends the app.
    assert_eq!(ok(dir.path(), &["list"]), serde_json::json!([]));
    ok(dir.path(), &["stop"]);
    let status = child.wait().expect("the app exits");
    assert!(status.success(), "{status}");
}

/// `keys` says where the device keys are (HS-REST-2); with no keychain reachable a device keeps
/// them in files, and `keys --to keychain` fails with code `keys` and leaves the files and the
/// documents as they were.
#[test]
fn keys_reports_where_the_device_keys_are() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    // No session bus: no keychain, whatever the machine running the test has.
    let hd_nobus = |args: &[&str]| {
        Command::new(BIN)
            .arg("--data")
            .arg(&data)
            .args(args)
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", dir.path().join("nobus").display()),
            )
            .env("XDG_RUNTIME_DIR", dir.path().join("norun"))
            .output()
            .expect("run humandocs")
    };
    let json = |out: &Output| -> Value { serde_json::from_slice(&out.stdout).expect("JSON") };
    let created = hd_nobus(&["create", "--title", "Keyed", "--body", "text"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let id = json(&created)["id"].as_str().expect("id").to_owned();
    let where_ = hd_nobus(&["keys"]);
    assert!(where_.status.success());
    assert_eq!(
        json(&where_)["keys"],
        serde_json::json!({ "identity.key": "files", "data.key": "files" })
    );
    let moved = hd_nobus(&["keys", "--to", "keychain"]);
    assert_eq!(moved.status.code(), Some(1));
    assert_eq!(
        json(&moved)["error"]["code"],
        "keys",
        "{}",
        String::from_utf8_lossy(&moved.stdout)
    );
    assert!(data.join("identity.key").exists() && data.join("data.key").exists());
    let moved = hd_nobus(&["keys", "--to", "files"]);
    assert!(moved.status.success());
    assert_eq!(json(&moved)["moved"], serde_json::json!([]));
    let shown = hd_nobus(&["show", &id]);
    assert_eq!(json(&shown)["body"], "text");
}
