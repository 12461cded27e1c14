//! A real lab (root only; skipped with a message otherwise): the links drop, delay, go down and
//! change at run time as told, and everything is removed afterwards.

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use humansync_linkem::{Lab, LinkProfile, NodeSpec, spawn_in_namespace};

fn root() -> bool {
    rustix::process::geteuid().is_root()
}

fn udp_in(ns: &str) -> UdpSocket {
    spawn_in_namespace(ns, || UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind"))
        .join()
        .expect("thread")
        .expect("namespace")
}

/// Sends `n` datagrams from `from` to `to` (read concurrently) and counts those that arrive
/// within a second of the last.
fn send_count(from: &UdpSocket, to: &UdpSocket, to_addr: Ipv4Addr, n: u32) -> u32 {
    let port = to.local_addr().expect("addr").port();
    let reader = to.try_clone().expect("clone");
    reader
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .expect("timeout");
    let counter = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = [0u8; 16];
        while reader.recv_from(&mut buf).is_ok() {
            got += 1;
        }
        got
    });
    for i in 0..n {
        from.send_to(&i.to_le_bytes(), (to_addr, port)).expect("send");
        if i % 20 == 19 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    counter.join().expect("counter")
}

fn echo_rtt(client: &UdpSocket, server: &UdpSocket, server_addr: Ipv4Addr) -> Duration {
    let port = server.local_addr().expect("addr").port();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let start = Instant::now();
    client.send_to(b"ping", (server_addr, port)).expect("send");
    let mut buf = [0u8; 16];
    let (_, from) = server.recv_from(&mut buf).expect("ping arrives");
    server.send_to(b"pong", from).expect("answer");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    client.recv_from(&mut buf).expect("pong arrives");
    start.elapsed()
}

#[test]
fn links_drop_delay_go_down_and_change_at_run_time() {
    if !root() {
        eprintln!("SKIP: the link emulator needs root (namespaces, TUN devices, tc)");
        return;
    }
    let lossy = LinkProfile {
        rtt_ms: 40,
        jitter_ms: 0,
        rate_kbit: None,
        loss: 0.2,
        queue_ms: 100,
    };
    let mut lab = Lab::start(
        "lktest",
        7,
        &[
            NodeSpec {
                name: "a".into(),
                profile: LinkProfile::LAN,
            },
            NodeSpec {
                name: "b".into(),
                profile: lossy,
            },
        ],
    )
    .expect("lab");
    let (a, b) = (lab.addr("a").expect("a"), lab.addr("b").expect("b"));
    let sa = udp_in(lab.namespace("a").expect("ns"));
    let sb = udp_in(lab.namespace("b").expect("ns"));

    // Loss: 20 % each way on b's link, 2,000 packets: far outside 14..26 % is a broken link.
    let got = send_count(&sb, &sa, a, 2000);
    assert!((1480..=1720).contains(&got), "{got} of 2000 arrived at 20 % loss");
    let up = &lab.stats()[1].uplink;
    assert_eq!(up.received, up.forwarded + up.lost + up.overflow, "{up:?}");
    assert!(up.lost >= 280, "{up:?}");

    // Delay: without loss the round trip takes at least the profile's RTT.
    lab.set_profile("b", LinkProfile { loss: 0.0, ..lossy })
        .expect("set");
    let rtt = echo_rtt(&sb, &sa, a);
    assert!(
        rtt >= Duration::from_millis(40),
        "rtt {rtt:?} below the profile's 40 ms"
    );

    // Down: nothing crosses either way; up again: everything does.
    lab.set_up("b", false).expect("down");
    assert_eq!(
        send_count(&sa, &sb, b, 100),
        0,
        "a link that is down delivers nothing"
    );
    assert_eq!(send_count(&sb, &sa, a, 100), 0);
    lab.set_up("b", true).expect("up");
    assert_eq!(send_count(&sa, &sb, b, 100), 100);

    // Run-time change of the delay.
    lab.set_profile(
        "b",
        LinkProfile {
            rtt_ms: 300,
            ..LinkProfile::LAN
        },
    )
    .expect("set");
    let rtt = echo_rtt(&sb, &sa, a);
    assert!(
        rtt >= Duration::from_millis(300),
        "rtt {rtt:?} after raising it to 300 ms"
    );

    let namespaces = [
        lab.namespace("a").expect("ns").to_owned(),
        "lktest-hub".to_owned(),
    ];
    drop(lab);
    let left = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| namespaces.iter().any(|n| e.file_name() == n.as_str()))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "dropping the lab removes its namespaces");
}
