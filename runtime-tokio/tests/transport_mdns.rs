//! mDNS discovery between two network namespaces joined by a veth pair: each peer runs as a
//! child process (this test binary re-invoked with `ip netns exec`), and the dialer knows the
//! acceptor by id only.
//!
//! Skipped, with a printed reason, only when not root or `ip` is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Node, TempDir, id_of, key, pattern};
use humansync::protocol::CloseCode;
use humansync::transport::{Gate, NetEvent, RelayChoice, Transport, TransportConfig};

const ROLE_ENV: &str = "HS_MDNS_ROLE";
const ACCEPTOR: u8 = 31;
const DIALER: u8 = 32;
const ECHO_LEN: usize = 1 << 20;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn has_ip() -> bool {
    Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair; deleted on drop (which also deletes the veth pair).
struct Netns {
    a: String,
    b: String,
    veth_a: String,
}

impl Netns {
    fn create() -> Netns {
        let tag = std::process::id() % 100_000;
        let net = Netns {
            a: format!("hs-mdns-{tag}-a"),
            b: format!("hs-mdns-{tag}-b"),
            veth_a: format!("hsm{tag}a"),
        };
        let veth_b = format!("hsm{tag}b");
        ip(&["netns", "add", &net.a]);
        ip(&["netns", "add", &net.b]);
        ip(&[
            "link",
            "add",
            &net.veth_a,
            "type",
            "veth",
            "peer",
            "name",
            &veth_b,
        ]);
        ip(&["link", "set", &net.veth_a, "netns", &net.a]);
        ip(&["link", "set", &veth_b, "netns", &net.b]);
        for (ns, dev, addr) in [
            (&net.a, &net.veth_a, "10.231.0.1/24"),
            (&net.b, &veth_b, "10.231.0.2/24"),
        ] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            // mDNS sends through the routing table: without a multicast route it only logs
            // "Network is unreachable".
            ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", dev]);
        }
        net
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("ip").args(args).stderr(Stdio::null()).status();
        };
        quiet(&["link", "del", &self.veth_a]); // only exists if setup failed before the move
        quiet(&["netns", "del", &self.a]);
        quiet(&["netns", "del", &self.b]);
    }
}

/// Kills a child process on drop (by its own pid).
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peer_command(ns: &str, role: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(exe)
        .args([
            "--exact",
            "mdns_peer_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_ENV, role)
        .stdout(Stdio::piped());
    cmd
}

/// Reads `child`'s stdout lines into a channel from a thread.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("  child: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `prefix` (libtest may print "test name ... " before it).
fn wait_line(rx: &mpsc::Receiver<String>, prefix: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(prefix) => return line,
            Ok(_) => continue,
            Err(e) => panic!("no {prefix} line from the child: {e}"),
        }
    }
}

#[test]
fn mdns_discovery_between_network_namespaces() {
    if !is_root() || !has_ip() {
        println!(
            "SKIPPED mdns_discovery_between_network_namespaces: needs root and iproute2 (`ip`) to create network namespaces"
        );
        return;
    }
    let net = Netns::create();
    let mut acceptor = Reaper(peer_command(&net.a, "accept").spawn().expect("spawn acceptor"));
    let acceptor_lines = lines(&mut acceptor.0);
    wait_line(&acceptor_lines, "MDNS_READY", Duration::from_secs(30));

    let mut dialer = Reaper(peer_command(&net.b, "dial").spawn().expect("spawn dialer"));
    let dialer_lines = lines(&mut dialer.0);
    let result = wait_line(&dialer_lines, "MDNS_RESULT", Duration::from_secs(90));
    let field = |name: &str| -> u64 {
        result
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {result}"))
    };
    println!(
        "mDNS discovery (dial by id to session) took {} ms",
        field("discovery_ms")
    );
    assert_eq!(
        field("echoed"),
        ECHO_LEN as u64,
        "the echo must come back whole and equal"
    );
    assert_eq!(field("on_lan"), 1, "Transport::lan_peers must list the acceptor");
    let status = dialer.0.wait().expect("dialer exit");
    assert!(status.success(), "dialer failed: {status}");
    wait_line(&acceptor_lines, "MDNS_DONE", Duration::from_secs(30));
    // Let the acceptor finish on its own (it cleans up its temp dir); the Reaper kills it otherwise.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = acceptor.0.try_wait().expect("acceptor status") {
            break status;
        }
        assert!(Instant::now() < deadline, "the acceptor did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "acceptor failed: {status}");
    drop(acceptor);
    drop(net);
}

/// The peer side, run in a namespace by the test above; does nothing unless HS_MDNS_ROLE is set.
#[test]
#[ignore = "helper: run by mdns_discovery_between_network_namespaces in a child process"]
fn mdns_peer_process() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        println!("mdns_peer_process only runs as a child of mdns_discovery_between_network_namespaces");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let watchdog = tokio::time::timeout(Duration::from_secs(80), async {
            match role.as_str() {
                "accept" => accept().await,
                _ => dial().await,
            }
        });
        watchdog.await.expect("peer process timed out");
    });
}

async fn mdns_node(seed: u8, other: u8) -> Node {
    let dir = TempDir::new("mdns");
    let gate = Gate::new(id_of(seed));
    gate.update([id_of(other)].into(), Default::default());
    let (tx, events) = tokio::sync::mpsc::channel(1024);
    let config = TransportConfig {
        secret_key: key(seed),
        bind_port: 0,
        bind_addr: None,
        relay: RelayChoice::Disabled,
        mdns: true,
        portmapper: false,
        blobs_dir: dir.path().join("blobs"),
        blob_gc: None,
        blob_key: None,
    };
    let transport = Transport::bind(config, gate.clone(), tx).await.expect("bind");
    Node {
        transport: std::sync::Arc::new(transport),
        events,
        gate,
        seed,
        dir,
    }
}

async fn accept() {
    let mut node = mdns_node(ACCEPTOR, DIALER).await;
    println!("MDNS_READY addrs={:?}", node.transport.addrs());
    let t = Duration::from_secs(70);
    let NetEvent::Connected { conn, peer, .. } = node.next_event(t).await else {
        panic!("connected")
    };
    assert_eq!(peer, id_of(DIALER));
    loop {
        match node.next_event(t).await {
            NetEvent::Bytes { bytes, .. } => node.transport.send_wait(conn, bytes).await.expect("echo"),
            NetEvent::Closed { code, .. } => {
                println!("MDNS_DONE code={code}");
                break;
            }
            NetEvent::Connected { .. } => panic!("second session"),
        }
    }
    node.stop().await;
}

async fn dial() {
    let mut node = mdns_node(DIALER, ACCEPTOR).await;
    let started = Instant::now();
    let conn = loop {
        // By id only: the address must come from mDNS.
        match node.transport.dial(id_of(ACCEPTOR), Vec::new()).await {
            Ok(conn) => break conn,
            Err(e) if started.elapsed() < Duration::from_secs(60) => {
                println!("dial not yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("mDNS never found the acceptor: {e}"),
        }
    };
    let discovery = started.elapsed();
    let t = Duration::from_secs(20);
    assert!(matches!(node.next_event(t).await, NetEvent::Connected { .. }));
    let data = pattern(9, ECHO_LEN);
    node.transport.send_wait(conn, data.clone()).await.expect("send");
    let mut echoed = Vec::new();
    while echoed.len() < ECHO_LEN {
        match node.next_event(t).await {
            NetEvent::Bytes { bytes, .. } => echoed.extend_from_slice(&bytes),
            other => panic!("unexpected {other:?}"),
        }
    }
    let equal = echoed == data;
    // The transport reports whom mDNS announced: the acceptor, at an address it dialled.
    let lan = node.transport.lan_peers();
    let on_lan = lan.get(&id_of(ACCEPTOR)).is_some_and(|addrs| !addrs.is_empty());
    node.transport.close(conn, CloseCode::NORMAL);
    let _ = node.next_event(t).await;
    println!(
        "MDNS_RESULT discovery_ms={} echoed={} on_lan={}",
        discovery.as_millis(),
        if equal { echoed.len() } else { 0 },
        u64::from(on_lan)
    );
    node.stop().await;
}
