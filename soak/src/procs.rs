//! The processes of a run: the server and the Humandocs apps, each started inside its node's
//! namespace (`ip netns exec`, which execs: the child's pid is the program's), logging to a file
//! of its own, killed with SIGKILL or stopped with SIGTERM by pid.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// libfaketime, preloaded into the clock-jump device.
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// A process the soak starts and stops.
#[derive(Debug)]
pub struct Proc {
    /// Its name (`server`, `d1`…).
    pub name: String,
    /// Program and arguments (after `ip netns exec NS`).
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Namespace.
    pub ns: String,
    /// Log file (stdout and stderr, appended across restarts).
    pub log: PathBuf,
    /// The running child.
    pub child: Option<Child>,
    /// Starts so far.
    pub epoch: u64,
    /// When it last started.
    pub started: Option<Instant>,
    /// Highest resident set size seen, bytes.
    pub max_rss: u64,
}

impl Proc {
    /// A process description; nothing runs yet.
    pub fn new(name: &str, ns: &str, argv: Vec<String>, log: PathBuf) -> Self {
        Proc {
            name: name.to_owned(),
            argv,
            env: Vec::new(),
            ns: ns.to_owned(),
            log,
            child: None,
            epoch: 0,
            started: None,
            max_rss: 0,
        }
    }

    /// Whether a child is running (not yet reaped).
    pub fn running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Starts it unless it runs; returns whether it started now.
    pub fn start(&mut self) -> std::io::Result<bool> {
        if self.running() {
            return Ok(false);
        }
        let log = OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns])
            .args(&self.argv)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn()?);
        self.epoch += 1;
        self.started = Some(Instant::now());
        Ok(true)
    }

    /// The running child's pid.
    pub fn pid(&mut self) -> Option<u32> {
        if self.running() {
            self.child.as_ref().map(Child::id)
        } else {
            None
        }
    }

    /// SIGKILL and reap; true when something was killed.
    pub fn kill9(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let alive = matches!(child.try_wait(), Ok(None));
        let _ = child.kill();
        let _ = child.wait();
        alive
    }

    /// Sends a signal to the running child.
    pub fn signal(&mut self, signal: Signal) -> bool {
        match self.pid().and_then(|p| Pid::from_raw(p as i32)) {
            Some(pid) => kill_process(pid, signal).is_ok(),
            None => false,
        }
    }

    /// SIGTERM, then waits up to `grace` for the exit (SIGKILL after that); returns the exit
    /// code when it exited by itself.
    pub fn terminate(&mut self, grace: Duration) -> Option<i32> {
        self.signal(Signal::TERM);
        let deadline = Instant::now() + grace;
        let mut child = self.child.take()?;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }

    /// If the child exited by itself: its status, and the child is forgotten.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            _ => None,
        }
    }

    /// Samples the resident set size, keeping the maximum; returns the current one in bytes.
    pub fn sample_rss(&mut self) -> Option<u64> {
        let pid = self.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        let bytes = kb * 1024;
        self.max_rss = self.max_rss.max(bytes);
        Some(bytes)
    }
}

/// Copies a directory tree (`cp -a`), replacing `to`.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "cp -a {} {} failed",
            from.display(),
            to.display()
        )))
    }
}
