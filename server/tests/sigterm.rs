//! The server binary stops cleanly on SIGTERM at any moment, start-up included (soak finding,
//! seed 302: a `docker stop` 90 ms after a start killed the process by the signal's default
//! action, exit status none, because the handler was installed only once it served).

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};
use support::server_binary;

/// The line the server logs before its start-up (opening the registry, the OPAQUE record with
/// argon2id, binding iroh and HTTP), which takes tens of milliseconds at least.
const BEFORE_START: &str = "the password was given as --password";

#[test]
fn sigterm_during_start_up_stops_the_server_cleanly() {
    let data = tempfile::tempdir().expect("dir");
    let mut child = server_binary(data.path())
        .args(["--password", "pw"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the server");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut log = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        log.push(line.clone());
        if line.contains(BEFORE_START) {
            break;
        }
    }
    assert!(
        log.last().is_some_and(|l| l.contains(BEFORE_START)),
        "the server never logged {BEFORE_START:?}: {log:#?}"
    );
    let pid = Pid::from_raw(child.id() as i32).expect("pid");
    kill_process(pid, Signal::TERM).expect("SIGTERM");
    // The rest of the log, read on a thread so that a server that never exits cannot hold the
    // test: it is killed after the bound below.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    log.extend(rest.join().expect("log reader"));
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM during start-up must end in a clean exit, not death by the signal ({status}); log: {log:#?}"
    );
    assert!(
        log.iter().any(|l| l.contains("shutting down")),
        "the server shut down through its own path: {log:#?}"
    );
}
