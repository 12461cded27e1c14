//! The real `humansync-server` binary as a child process on loopback (HTTP on 127.0.0.1, iroh on
//! 127.0.0.1 with relays and mDNS off), so that its memory is its own: read it with
//! [`ServerProcess::memory`]. Benches and tests find the binary through
//! `env!("CARGO_BIN_EXE_humansync-server")`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::proc::Memory;

/// How long the server may take to answer `GET /health` after it was started.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running `humansync-server`; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    http_addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `bin` serving `data_dir` with `password` on a free loopback port and waits until it
    /// answers `GET /health` (panics after a minute, or if it exits).
    pub fn start(bin: &Path, data_dir: &Path, password: &str) -> ServerProcess {
        ServerProcess::start_with(bin, data_dir, password, &[])
    }

    /// [`ServerProcess::start`] with more command-line arguments (e.g. `--data-key`).
    pub fn start_with(bin: &Path, data_dir: &Path, password: &str, args: &[&str]) -> ServerProcess {
        let http_addr = free_port();
        let child = Command::new(bin)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http-addr", &http_addr.to_string()])
            .args(["--iroh-port", "0", "--iroh-bind", "127.0.0.1"])
            .args(["--relay", "disabled", "--mdns", "false"])
            .args(args)
            .env("HUMANSYNC_PASSWORD", password)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut server = ServerProcess { child, http_addr };
        let started = Instant::now();
        while !server.healthy() {
            assert!(server.running(), "humansync-server exited while starting");
            assert!(
                started.elapsed() < START_LIMIT,
                "humansync-server not healthy after {START_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        server
    }

    /// The HTTP API's base URL, e.g. `http://127.0.0.1:40000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's resident memory now and its peak so far; `None` once it has exited.
    pub fn memory(&self) -> Option<Memory> {
        Memory::of(self.pid())
    }

    /// True if `GET /health` answers 200 (plain HTTP/1.1 over a short-lived TCP connection).
    fn healthy(&self) -> bool {
        let Ok(mut tcp) = TcpStream::connect_timeout(&self.http_addr, Duration::from_secs(1)) else {
            return false;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!(
            "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.http_addr
        );
        if tcp.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
    }

    /// Kills the process and waits for it.
    pub fn stop(mut self) {
        self.kill();
    }

    /// Stops the process as a container runtime does (SIGTERM: a clean shutdown) and waits for
    /// it; true if it exited successfully.
    pub fn terminate(mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        sent && self.child.wait().is_ok_and(|s| s.success())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback address with a port free right now (for the server's listeners).
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}
