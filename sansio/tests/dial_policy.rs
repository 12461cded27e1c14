//! The connection policy of the core (HS-TRANSPORT-4, HS-GATE-5, HS-GATE-7): whom it dials,
//! when, with what backoff, and that a node revoked in its own view dials nobody.

use ed25519_dalek::SigningKey;
use humansync_protocol::{CloseCode, DeviceId, RegistryRecord};
use humansync_sansio::gate::Admission;
use humansync_sansio::{ConnId, Core, CoreConfig, Instant, Output, Role, Startup, Wake};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn id(seed: u8) -> DeviceId {
    DeviceId::from(&key(seed))
}

fn drain(core: &mut Core) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn dials(outputs: &[Output]) -> Vec<DeviceId> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Dial { peer } => Some(*peer),
            _ => None,
        })
        .collect()
}

/// A core for device `me` (anchor: key 1), with Device records for `devices`.
fn device_core(me: u8, devices: &[u8]) -> Core {
    let server = key(1);
    let config = CoreConfig::new(id(me), vec![me; 16], Some(id(1)));
    let mut core = Core::new(Instant(0), config, Startup::default()).expect("core");
    for d in devices {
        let record = RegistryRecord::Device {
            device: id(*d),
            name: format!("d{d}"),
            paired_at_ms: 1,
        }
        .sign(&server)
        .expect("sign");
        core.add_registry_record(Instant(0), &record).expect("record");
    }
    core
}

fn revoke(core: &mut Core, now: Instant, device: u8) {
    let record = RegistryRecord::Revoked {
        device: id(device),
        revoked_at_ms: 2,
    }
    .sign(&key(1))
    .expect("sign");
    core.add_registry_record(now, &record).expect("record");
}

/// Runs the core's timers until `until`, failing every dial it asks for; returns the dials.
fn fail_dials_until(core: &mut Core, mut now: Instant, until: Instant) -> Vec<(Instant, DeviceId)> {
    let mut seen = Vec::new();
    loop {
        for peer in dials(&drain(core)) {
            seen.push((now, peer));
            core.handle_dial_failed(now, peer);
        }
        match core.poll_timeout() {
            Some(t) if t <= until => {
                assert!(t >= now, "a timer in the past");
                now = t;
                core.handle_timeout(now);
            }
            _ => return seen,
        }
    }
}

// HS-GATE-5: once a node's own view holds its revocation, it closes every session, tells the
// runtime's gate to admit nobody, and asks for no dial ever again.
#[test]
fn a_self_revoked_node_dials_nobody_and_closes_everything() {
    let mut core = device_core(2, &[2, 3, 4]);
    let first = dials(&drain(&mut core));
    assert!(first.contains(&id(1)), "a device dials the anchor");
    // Sessions with the anchor and device 3.
    for (conn, peer) in [(ConnId(1), id(1)), (ConnId(2), id(3))] {
        assert_eq!(
            core.handle_connection(Instant(10), conn, peer, Role::Dialer),
            Admission::Admit
        );
    }
    drain(&mut core);
    revoke(&mut core, Instant(20), 2);
    let out = drain(&mut core);
    let gate = out.iter().find_map(|o| match o {
        Output::Gate(view) => Some(view.clone()),
        _ => None,
    });
    let gate = gate.expect("the gate view changed");
    assert!(gate.self_revoked());
    for peer in [1, 3, 4] {
        assert_eq!(gate.admit(&id(peer)), Admission::Reject(CloseCode::REVOKED));
    }
    let gate_at = out.iter().position(|o| matches!(o, Output::Gate(_)));
    let first_disconnect = out
        .iter()
        .position(|o| matches!(o, Output::DisconnectPeer { .. }));
    assert!(
        gate_at < first_disconnect,
        "the gate changes before connections close"
    );
    assert!(core.status().peers.is_empty(), "every session closed");
    assert!(dials(&out).is_empty());
    let later = fail_dials_until(&mut core, Instant(20), Instant(3_600_000));
    assert!(later.is_empty(), "dials after self-revocation: {later:?}");
    assert_eq!(core.poll_timeout_reason().map(|(_, w)| w), None);
}

// HS-GATE-7, bug 4: a device dials the anchor again and again while it is unreachable, never
// waiting longer than the anchor's cap; a new address makes it dial at once.
#[test]
fn the_anchor_is_retried_with_a_short_cap_and_at_once_when_seen() {
    let mut core = device_core(2, &[2]);
    let cap = core_config_anchor_cap();
    let seen = fail_dials_until(&mut core, Instant(0), Instant(120_000));
    let to_anchor: Vec<Instant> = seen
        .iter()
        .filter(|(_, p)| *p == id(1))
        .map(|(t, _)| *t)
        .collect();
    assert!(to_anchor.len() >= 60, "{} dials in 120 s", to_anchor.len());
    let gaps: Vec<u64> = to_anchor.windows(2).map(|w| w[1].ms_since(w[0])).collect();
    assert!(gaps.iter().all(|g| *g <= cap), "a gap over {cap} ms: {gaps:?}");
    // Backoff grows from the start value: the first gaps are shorter than the last.
    assert!(gaps[0] < gaps[gaps.len() - 1], "{gaps:?}");
    // A new address: dialled at once, not after the backoff.
    let now = Instant(120_001);
    core.handle_timeout(now);
    let out = drain(&mut core);
    for peer in dials(&out) {
        core.handle_dial_failed(now, peer);
    }
    drain(&mut core);
    core.handle_peer_seen(now, id(1));
    assert_eq!(dials(&drain(&mut core)), vec![id(1)]);
    assert_eq!(core.poll_timeout_reason().map(|(_, w)| w), Some(Wake::Dial));
}

fn core_config_anchor_cap() -> u64 {
    humansync_sansio::DialConfig::default().anchor_backoff_max_ms
}

// HS-TRANSPORT-4: of two devices the lower id dials; the higher one only after the pair has had
// no session for the fallback delay. The anchor dials a device only as that fallback too.
#[test]
fn the_preferred_dialer_dials_first_and_the_other_side_only_as_a_fallback() {
    let (lo, hi) = if id(2) < id(3) { (2, 3) } else { (3, 2) };
    let fallback = humansync_sansio::DialConfig::default().fallback_ms;
    let mut low = device_core(lo, &[2, 3]);
    let mut high = device_core(hi, &[2, 3]);
    let low_dials = fail_dials_until(&mut low, Instant(0), Instant(fallback - 1));
    let high_dials = fail_dials_until(&mut high, Instant(0), Instant(fallback - 1));
    assert!(low_dials.iter().any(|(_, p)| *p == id(hi)));
    assert!(high_dials.iter().all(|(_, p)| *p != id(lo)), "{high_dials:?}");
    let high_later = fail_dials_until(&mut high, Instant(fallback - 1), Instant(fallback + 1));
    assert!(
        high_later.iter().any(|(_, p)| *p == id(lo)),
        "the fallback dial: {high_later:?}"
    );
    // The anchor: no dial to a device before the fallback delay.
    let anchor_config = CoreConfig::new(id(1), vec![1; 16], Some(id(1)));
    let mut anchor = Core::new(Instant(0), anchor_config, Startup::default()).expect("core");
    let record = RegistryRecord::Device {
        device: id(2),
        name: "d2".into(),
        paired_at_ms: 1,
    }
    .sign(&key(1))
    .expect("sign");
    anchor.add_registry_record(Instant(0), &record).expect("record");
    let early = fail_dials_until(&mut anchor, Instant(0), Instant(fallback - 1));
    assert!(early.is_empty(), "{early:?}");
    let late = fail_dials_until(&mut anchor, Instant(fallback - 1), Instant(fallback + 1));
    assert_eq!(late.len(), 1);
}

// HS-TRANSPORT-4: no dial while a session with the peer exists, in any phase.
#[test]
fn no_dial_while_a_session_exists() {
    let mut core = device_core(2, &[2]);
    drain(&mut core);
    assert_eq!(
        core.handle_connection(Instant(5), ConnId(9), id(1), Role::Acceptor),
        Admission::Admit
    );
    drain(&mut core);
    // The dial the core asked for at start fails; the incoming session is enough.
    core.handle_dial_failed(Instant(6), id(1));
    let later = fail_dials_until(&mut core, Instant(6), Instant(9_000));
    assert!(later.is_empty(), "{later:?}");
}

// HS-GATE-7: a peer whose gate refuses us (the connection closed with REVOKED before any
// handshake) is dialled again only after a growing delay, and we do not conclude that we are
// revoked: the peer stays admitted here.
#[test]
fn a_peer_that_refuses_us_is_dialled_with_a_growing_delay() {
    let (me, other) = if id(2) < id(3) { (2, 3) } else { (3, 2) };
    let mut core = device_core(me, &[2, 3]);
    let mut now = Instant(0);
    let mut times = Vec::new();
    let mut conn = 100;
    while times.len() < 6 {
        let out = drain(&mut core);
        if dials(&out).contains(&id(other)) {
            times.push(now);
            conn += 1;
            let c = ConnId(conn);
            assert_eq!(
                core.handle_connection(now, c, id(other), Role::Dialer),
                Admission::Admit
            );
            drain(&mut core);
            core.handle_connection_closed(now, c, CloseCode::REVOKED);
        }
        for peer in dials(&out).into_iter().filter(|p| *p != id(other)) {
            core.handle_dial_failed(now, peer);
        }
        now = core.poll_timeout().expect("a timer");
        core.handle_timeout(now);
    }
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1].ms_since(w[0])).collect();
    assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "{gaps:?}");
    assert!(gaps[gaps.len() - 1] >= 4 * gaps[0], "{gaps:?}");
    assert_eq!(core.admission_of(&id(other)), Admission::Admit);
    assert!(!core.gate().self_revoked());
}

// HS-TRANSPORT-4: a peer found again (its server API answers again after failing, a new address,
// mDNS) while the session with it has been silent gets a new dial, which replaces the session if
// it was dead at the peer's end (a server killed and restarted); a session with recent traffic
// is left alone.
#[test]
fn a_silent_session_is_replaced_when_the_peer_is_found_again() {
    let mut core = device_core(2, &[2]);
    drain(&mut core);
    assert_eq!(
        core.handle_connection(Instant(10), ConnId(1), id(1), Role::Dialer),
        Admission::Admit
    );
    let welcome = humansync_protocol::encode_frame(&humansync_protocol::Message::Welcome {
        version: 2,
        set: core.set_summary(),
        devices: core
            .digest(&humansync_protocol::DocId::devices())
            .expect("digest"),
    })
    .expect("frame");
    core.handle_bytes(Instant(20), ConnId(1), &welcome);
    drain(&mut core);
    assert!(core.status().peers.iter().any(|p| p.open));
    // Recent traffic: no dial.
    core.handle_peer_seen(Instant(1_000), id(1));
    assert!(dials(&drain(&mut core)).is_empty());
    // Silent for longer than the race window: a new dial; the new session replaces the old one.
    core.handle_peer_seen(Instant(60_000), id(1));
    assert_eq!(dials(&drain(&mut core)), vec![id(1)]);
    assert_eq!(
        core.handle_connection(Instant(60_010), ConnId(2), id(1), Role::Dialer),
        Admission::Admit
    );
    core.handle_bytes(Instant(60_020), ConnId(2), &welcome);
    let out = drain(&mut core);
    assert!(out.iter().any(
        |o| matches!(o, Output::Close { conn, code } if *conn == ConnId(1) && *code == CloseCode::DUPLICATE)
    ));
    let open: Vec<ConnId> = core
        .status()
        .peers
        .iter()
        .filter(|p| p.open)
        .map(|p| p.conn)
        .collect();
    assert_eq!(open, vec![ConnId(2)]);
}
