//! The child-process harness shared by the kill -9 tests: the test binary re-invokes one of its
//! own tests as the writer, reads its acknowledgement lines, and SIGKILLs it.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Lines};
use std::process::{ChildStdout, Command, Stdio};

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

/// A uniformly drawn number below `n`.
pub fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    rng.next_u64() % n
}

/// A writer running as a child process.
pub struct Writer {
    child: std::process::Child,
    /// Its stdout, line by line.
    pub lines: Lines<BufReader<ChildStdout>>,
}

impl Writer {
    /// Re-runs this test binary's test `test` alone, with `env_key=spec` telling it to write.
    pub fn spawn(test: &str, env_key: &str, spec: String) -> Self {
        let exe = std::env::current_exe().expect("test binary path");
        let mut child = Command::new(exe)
            .args(["--exact", test, "--nocapture", "--test-threads", "1"])
            .env(env_key, spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the writer");
        let stdout = child.stdout.take().expect("piped stdout");
        Writer {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// SIGKILLs the writer if it still runs, then hands every line it printed before dying to
    /// `record` (they are acknowledgements too). Returns whether it was killed.
    pub fn kill(mut self, mut record: impl FnMut(&str)) -> bool {
        let killed = if self.child.try_wait().expect("try_wait").is_none() {
            self.child.kill().expect("SIGKILL"); // SIGKILL on Unix
            true
        } else {
            false
        };
        for line in self.lines.by_ref() {
            record(&line.expect("read writer output"));
        }
        self.child.wait().expect("wait for the writer");
        killed
    }
}
