//! A real freedesktop Secret Service for keychain tests: a private D-Bus session bus
//! (`dbus-daemon`, no service activation) with `gnome-keyring-daemon` on it, unlocked with a
//! known password or left locked. Nothing touches the user's own session or keyring.
//!
//! A node finds the Secret Service through `DBUS_SESSION_BUS_ADDRESS`, which is process-wide,
//! so each scenario runs in a child process of the test binary ([`run_child`]) with the bus's
//! address in its environment. Needs `dbus-daemon`, `dbus-send` and `gnome-keyring-daemon`
//! (Debian: `dbus`, `gnome-keyring`; `.ci/run` installs them); without them the tests say so and
//! skip.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the test keyring.
const PASSWORD: &str = "keychain-test-password";

/// The environment variable that tells a child test where to work.
pub const CHILD_DIR: &str = "HS_KEYCHAIN_TEST_DIR";

/// How the keyring starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Unlocked with the password (created on first use).
    Unlocked,
    /// Not unlocked: an existing keyring stays locked; unlocking needs a prompt nobody can show.
    Locked,
}

/// A running private session bus with gnome-keyring on it; both stop when it is dropped (the
/// keyring daemon exits when its bus goes away).
pub struct SecretService {
    bus: Child,
    address: String,
    home: PathBuf,
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True when the tools are installed; else prints why the test skips.
pub fn available(test: &str) -> bool {
    let missing: Vec<_> = ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: {} not installed (apt-get install dbus gnome-keyring; .ci/run does)",
        missing.join(", ")
    );
    false
}

impl SecretService {
    /// Starts a bus and a keyring daemon keeping its keyrings under `home` (reuse `home` to find
    /// a keyring created by an earlier start). `run` names this start's runtime directory.
    pub fn start(home: &Path, lock: Lock, run: &str) -> SecretService {
        std::fs::create_dir_all(home).expect("home");
        let conf = home.join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                home.display()
            ),
        )
        .expect("bus config");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().expect("stdout"))
            .read_line(&mut address)
            .expect("bus address");
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "bus address {address:?}");
        let service = SecretService {
            bus,
            address,
            home: home.to_path_buf(),
        };
        let runtime = home.join(run);
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        let mut keyring = Command::new("gnome-keyring-daemon");
        match lock {
            Lock::Unlocked => keyring.args(["--unlock", "--components=secrets"]),
            Lock::Locked => keyring.args(["--start", "--components=secrets"]),
        };
        let mut keyring = keyring
            .env("DBUS_SESSION_BUS_ADDRESS", &service.address)
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("share"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon starts");
        let mut stdin = keyring.stdin.take().expect("stdin");
        if lock == Lock::Unlocked {
            stdin.write_all(PASSWORD.as_bytes()).expect("password");
        }
        drop(stdin);
        // The launcher forks the daemon and exits.
        assert!(
            keyring.wait().expect("keyring launcher").success(),
            "gnome-keyring-daemon failed"
        );
        service.wait_for_name("org.freedesktop.secrets");
        service
    }

    fn wait_for_name(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("dbus-send")
                .arg(format!("--bus={}", self.address))
                .args([
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    &format!("string:{name}"),
                ])
                .output()
                .expect("dbus-send");
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            assert!(Instant::now() < deadline, "{name} never appeared on the test bus");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The bus address a child process uses.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// Runs the ignored test `name` of this test binary in a child process whose session bus is
/// `bus` (`None`: an address where no bus listens), working in `dir`; panics with its output
/// when it fails.
pub fn run_child(name: &str, bus: Option<&str>, dir: &Path) {
    let nobus = format!("unix:path={}", dir.join("no-bus-here").display());
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            name,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", bus.unwrap_or(&nobus))
        // No fallback to a real session bus under the runtime directory.
        .env("XDG_RUNTIME_DIR", dir.join("no-runtime-dir"))
        .env(CHILD_DIR, dir)
        .output()
        .expect("child test runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In a child test: its working directory; `None` when run directly (the parent test runs it).
pub fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_DIR).map(PathBuf::from)
}
