//! Verifies a profile by measurement: a two-node lab (`a` unshaped, `b` on the profile), then a
//! UDP echo for the round-trip time, 10,000 numbered UDP packets each way for the loss, and a
//! TCP bulk transfer for the rate (with the loss switched off for it, so that the figure is the
//! shaper's and not TCP's reaction to loss).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{Lab, LinkError, LinkProfile, NodeSpec, spawn_in_namespace};

/// Port of the echo and sink services inside node `a`.
const PORT: u16 = 7;

/// Measured figures next to the profile's.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// The profile's name.
    pub profile: String,
    /// The profile.
    pub expected: LinkProfile,
    /// Round-trip times of the echo probes, milliseconds: (min, p50, p99, max).
    pub rtt_ms: (f64, f64, f64, f64),
    /// Echo probes sent and answered.
    pub rtt_probes: (u32, u32),
    /// Loss node b → a: packets sent, received, fraction lost.
    pub loss_up: (u32, u32, f64),
    /// Loss node a → b: packets sent, received, fraction lost.
    pub loss_down: (u32, u32, f64),
    /// TCP goodput b → a in kbit/s (payload bytes only: expect ~96 % of the IP rate).
    pub goodput_up_kbit: f64,
    /// TCP goodput a → b in kbit/s.
    pub goodput_down_kbit: f64,
}

/// Packets sent per loss direction.
pub const LOSS_PACKETS: u32 = 10_000;

/// Measures `profile` in a fresh lab named `lab` (torn down afterwards).
pub fn measure(lab: &str, name: &str, profile: LinkProfile, seed: u64) -> Result<Measurement, LinkError> {
    let mut lab = Lab::start(
        lab,
        seed,
        &[
            NodeSpec {
                name: "a".into(),
                profile: LinkProfile::LAN,
            },
            NodeSpec {
                name: "b".into(),
                profile,
            },
        ],
    )?;
    let a = lab.addr("a")?;
    let (ns_a, ns_b) = (lab.namespace("a")?.to_owned(), lab.namespace("b")?.to_owned());
    let (rtts, sent) = rtt(&ns_a, &ns_b, a)?;
    let loss_up = loss(&ns_a, &ns_b, a, profile)?;
    let b = lab.addr("b")?;
    let loss_down = loss(&ns_b, &ns_a, b, profile)?;
    lab.set_profile("b", LinkProfile { loss: 0.0, ..profile })?;
    let seconds = if profile.rate_kbit.is_some_and(|k| k < 5_000) {
        8.0
    } else {
        4.0
    };
    let goodput_up_kbit = goodput(&ns_a, &ns_b, a, seconds)?;
    let goodput_down_kbit = goodput(&ns_b, &ns_a, b, seconds)?;
    let mut sorted = rtts.clone();
    sorted.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if sorted.is_empty() {
            f64::NAN
        } else {
            sorted[((sorted.len() - 1) as f64 * q).round() as usize]
        }
    };
    Ok(Measurement {
        profile: name.to_owned(),
        expected: profile,
        rtt_ms: (pick(0.0), pick(0.5), pick(0.99), pick(1.0)),
        rtt_probes: (sent, rtts.len() as u32),
        loss_up,
        loss_down,
        goodput_up_kbit,
        goodput_down_kbit,
    })
}

/// Joins a namespace thread that made a socket.
fn joined<T>(
    handle: std::thread::JoinHandle<Result<Result<T, LinkError>, LinkError>>,
) -> Result<T, LinkError> {
    handle
        .join()
        .map_err(|_| LinkError::Command("measurement thread panicked".into()))??
}

fn io(e: std::io::Error) -> LinkError {
    LinkError::Command(format!("measurement socket: {e}"))
}

/// 200 echo probes, 10 ms apart; returns the answered probes' RTTs and the number sent.
fn rtt(ns_server: &str, ns_client: &str, server: Ipv4Addr) -> Result<(Vec<f64>, u32), LinkError> {
    const PROBES: u32 = 200;
    let echo = joined(spawn_in_namespace(ns_server, || {
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT)).map_err(io)
    }))?;
    echo.set_read_timeout(Some(Duration::from_secs(3))).map_err(io)?;
    let server_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let client = joined(spawn_in_namespace(ns_client, || {
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(io)
    }))?;
    client
        .set_read_timeout(Some(Duration::from_millis(5)))
        .map_err(io)?;
    let target = SocketAddr::from((server, PORT));
    let start = Instant::now();
    let mut sent_at = Vec::new();
    let mut rtts = Vec::new();
    let mut buf = [0u8; 64];
    let mut next = Instant::now();
    while (sent_at.len() as u32) < PROBES
        || start.elapsed() < Duration::from_secs(2) + Duration::from_millis(u64::from(PROBES) * 10)
    {
        if (sent_at.len() as u32) < PROBES && Instant::now() >= next {
            let i = sent_at.len() as u32;
            client.send_to(&i.to_le_bytes(), target).map_err(io)?;
            sent_at.push(Instant::now());
            next += Duration::from_millis(10);
        }
        if let Ok((4, _)) = client.recv_from(&mut buf) {
            let i = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if let Some(t) = sent_at.get(i) {
                rtts.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        if rtts.len() as u32 == PROBES {
            break;
        }
    }
    drop(client);
    let _ = server_thread.join();
    Ok((rtts, PROBES))
}

/// [`LOSS_PACKETS`] numbered datagrams from the client's namespace to a sink, paced at half the
/// link's rate (so that the shaper's queue never drops any), counted at the sink.
fn loss(
    ns_sink: &str,
    ns_sender: &str,
    sink: Ipv4Addr,
    profile: LinkProfile,
) -> Result<(u32, u32, f64), LinkError> {
    const PAYLOAD: usize = 64;
    let socket = joined(spawn_in_namespace(ns_sink, || {
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT + 1)).map_err(io)
    }))?;
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(io)?;
    let counter = std::thread::spawn(move || {
        let mut seen = vec![false; LOSS_PACKETS as usize];
        let mut buf = [0u8; PAYLOAD];
        while let Ok((n, _)) = socket.recv_from(&mut buf) {
            if n == PAYLOAD {
                let i = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if let Some(s) = seen.get_mut(i) {
                    *s = true;
                }
            }
        }
        seen.iter().filter(|s| **s).count() as u32
    });
    let sender = joined(spawn_in_namespace(ns_sender, || {
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(io)
    }))?;
    // 92 bytes on the wire per packet (IPv4 + UDP headers); half the rate, at most 5,000/s.
    let pps = profile
        .rate_kbit
        .map_or(5_000.0, |k| (k as f64 * 1000.0 / 8.0 / 92.0 / 2.0).min(5_000.0));
    let gap = Duration::from_secs_f64(1.0 / pps);
    let start = Instant::now();
    let mut buf = [0u8; PAYLOAD];
    for i in 0..LOSS_PACKETS {
        buf[..4].copy_from_slice(&i.to_le_bytes());
        sender.send_to(&buf, (sink, PORT + 1)).map_err(io)?;
        let due = start + gap * (i + 1);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let received = counter
        .join()
        .map_err(|_| LinkError::Command("counter panicked".into()))?;
    Ok((
        LOSS_PACKETS,
        received,
        1.0 - f64::from(received) / f64::from(LOSS_PACKETS),
    ))
}

/// A TCP bulk transfer for `seconds`; the receiver's payload bytes per second after the first
/// half second (slow start excluded), in kbit/s.
fn goodput(ns_receiver: &str, ns_sender: &str, receiver: Ipv4Addr, seconds: f64) -> Result<f64, LinkError> {
    let listener = joined(spawn_in_namespace(ns_receiver, || {
        TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT + 2)).map_err(io)
    }))?;
    let reader = std::thread::spawn(move || -> Result<f64, LinkError> {
        let (mut stream, _) = listener.accept().map_err(io)?;
        let mut buf = vec![0u8; 64 * 1024];
        let start = Instant::now();
        let warmup = Duration::from_millis(500);
        let mut counted = 0u64;
        let mut counting_since = None;
        loop {
            let n = stream.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            if start.elapsed() >= warmup {
                counting_since.get_or_insert_with(Instant::now);
                counted += n as u64;
            }
        }
        let elapsed = counting_since.map_or(0.0, |t| t.elapsed().as_secs_f64());
        Ok(if elapsed > 0.0 {
            counted as f64 * 8.0 / elapsed / 1000.0
        } else {
            0.0
        })
    });
    let mut stream = joined(spawn_in_namespace(ns_sender, move || {
        TcpStream::connect((receiver, PORT + 2)).map_err(io)
    }))?;
    let chunk = vec![0x5au8; 64 * 1024];
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        stream.write_all(&chunk).map_err(io)?;
    }
    drop(stream);
    reader
        .join()
        .map_err(|_| LinkError::Command("reader panicked".into()))?
}
