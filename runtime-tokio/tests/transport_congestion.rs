//! Every QUIC path's congestion controller is chosen by the path's delay
//! (`humansync::transport::congestion`): through an emulated link with real propagation delay,
//! with or without random loss, the sender is paced by BBRv3 (it reports a bandwidth estimate);
//! through an unshaped one, by Cubic (it reports none). Root only (a linkem lab); skipped with a
//! message otherwise.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::time::Duration;

use humansync::transport::congestion::{WIDE_AREA_RTT, quic_transport_config};
use humansync_linkem::{Lab, LinkError, LinkProfile, NodeSpec, spawn_in_namespace};
use iroh::endpoint::{PathStats, PortmapperConfig, presets};
use iroh::{Endpoint, EndpointAddr, RelayMode, TransportAddr};

const ALPN: &[u8] = b"hs-test/congestion/0";
/// Bytes each transfer moves: enough for many round trips on every profile below.
const LEN: usize = 2 << 20;

fn root() -> bool {
    rustix::process::geteuid().is_root()
}

async fn bind(ip: Ipv4Addr, alpns: Vec<Vec<u8>>) -> Endpoint {
    Endpoint::builder(presets::Minimal)
        .transport_config(quic_transport_config())
        .relay_mode(RelayMode::Disabled)
        .portmapper_config(PortmapperConfig::Disabled)
        .clear_ip_transports()
        .bind_addr(SocketAddr::new(ip.into(), 0))
        .expect("bind addr")
        .alpns(alpns)
        .bind()
        .await
        .expect("bind endpoint")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// In namespace `ns`: accepts `transfers` connections, reads each one's stream to its end and
/// answers with one byte, so that the sender knows every byte arrived.
fn receiver(
    ns: &str,
    ip: Ipv4Addr,
    transfers: usize,
) -> (EndpointAddr, std::thread::JoinHandle<Result<(), LinkError>>) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let thread = spawn_in_namespace(ns, move || {
        runtime().block_on(async move {
            let ep = bind(ip, vec![ALPN.to_vec()]).await;
            let addrs = ep.bound_sockets().into_iter().map(TransportAddr::Ip);
            addr_tx
                .send(EndpointAddr::new(ep.id()).with_addrs(addrs))
                .expect("addr");
            for _ in 0..transfers {
                let conn = ep.accept().await.expect("incoming").await.expect("conn");
                let (mut send, mut recv) = conn.accept_bi().await.expect("stream");
                let got = recv.read_to_end(LEN + 1).await.expect("read");
                assert_eq!(got.len(), LEN);
                send.write_all(b"!").await.expect("answer");
                send.finish().expect("finish");
                conn.closed().await;
            }
            ep.close().await;
        })
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("receiver bound");
    (addr, thread)
}

/// In namespace `ns`: sends [`LEN`] bytes to `to` on a new connection and returns the selected
/// path's statistics once the receiver has all of them.
fn send_once(ns: &str, ip: Ipv4Addr, to: EndpointAddr) -> PathStats {
    spawn_in_namespace(ns, move || {
        runtime().block_on(async move {
            let ep = bind(ip, Vec::new()).await;
            let conn = ep.connect(to, ALPN).await.expect("connect");
            let (mut send, mut recv) = conn.open_bi().await.expect("stream");
            send.write_all(&vec![7u8; LEN]).await.expect("write");
            send.finish().expect("finish");
            assert_eq!(recv.read_to_end(1).await.expect("answer"), b"!");
            let stats = conn
                .paths()
                .iter()
                .find(|p| p.is_selected())
                .expect("a selected path")
                .stats();
            conn.close(0u32.into(), b"done");
            ep.close().await;
            stats
        })
    })
    .join()
    .expect("thread")
    .expect("namespace")
}

#[test]
fn a_path_with_propagation_delay_is_paced_by_bbr_a_sub_millisecond_one_by_cubic() {
    if !root() {
        eprintln!("SKIP: the link emulator needs root (namespaces, TUN devices, tc)");
        return;
    }
    let node = |name: &str| NodeSpec {
        name: name.into(),
        profile: LinkProfile::LAN,
    };
    let mut lab = Lab::start("cctest", 11, &[node("rx"), node("tx")]).expect("lab");
    let (rx, tx) = (lab.addr("rx").expect("rx"), lab.addr("tx").expect("tx"));
    let (rx_ns, tx_ns) = (
        lab.namespace("rx").expect("ns").to_owned(),
        lab.namespace("tx").expect("ns").to_owned(),
    );
    let (to, receiving) = receiver(&rx_ns, rx, 3);

    // Unshaped: the round trip is the hosts' own, well under WIDE_AREA_RTT: Cubic. (No bound
    // on `lan.rtt`: the statistics give the smoothed round trip, which queueing behind the
    // 2 MiB burst lifts to ~4 ms here; the controller goes by the smallest one.)
    let lan = send_once(&tx_ns, tx, to.clone());
    assert_eq!(
        lan.bandwidth_estimate, None,
        "Cubic reports no bandwidth estimate: {lan:?}"
    );

    // Home broadband (20 ms): BBRv3.
    lab.set_profile("tx", LinkProfile::BROADBAND).expect("profile");
    let broadband = send_once(&tx_ns, tx, to.clone());
    assert!(broadband.rtt >= WIDE_AREA_RTT, "{broadband:?}");
    assert!(
        broadband.bandwidth_estimate.is_some(),
        "BBRv3 in charge: {broadband:?}"
    );

    // LTE (60 ms, 0.5 % random loss each way, 2 % here so that a 2 MiB transfer loses packets
    // for certain): still BBRv3, which does not read random loss as congestion.
    lab.set_profile(
        "tx",
        LinkProfile {
            loss: 0.02,
            ..LinkProfile::LTE
        },
    )
    .expect("profile");
    let lossy = send_once(&tx_ns, tx, to);
    assert!(lossy.lost_packets > 0, "{lossy:?}");
    assert!(lossy.bandwidth_estimate.is_some(), "BBRv3 in charge: {lossy:?}");

    receiving.join().expect("receiver").expect("namespace");
}
