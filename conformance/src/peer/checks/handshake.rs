//! Handshake and version negotiation (HS-VER-1..3, HS-REG-10, HS-SYNC-6, HS-TRANSPORT-1).

use std::time::Duration;

use humansync_protocol::limits::HANDSHAKE_TIMEOUT_MS;
use humansync_protocol::{CloseCode, Message, V1, encode_frame};

use super::super::wire::{Dialer, after};
use super::super::{Cases, Target};
use super::{expect_close, expect_close_after, handshake, hello};
use crate::report::Verdict;

/// Cases in which the node closes the connection.
pub(crate) async fn node_closes(target: &Target, dialer: &Dialer, cases: &mut Cases) {
    // Versions no specification defines (this one defines 1 and 2).
    let unsupported = encode(&hello(&[98, 99]));
    cases.add(
        "handshake/unsupported-version",
        &["HS-VER-2", "HS-CLOSE-1"],
        "Hello{versions:[98,99]} (no version in common): close CLOSE_UNSUPPORTED_VERSION, no Welcome",
        expect_close_after(
            dialer,
            target,
            false,
            &unsupported,
            CloseCode::UNSUPPORTED_VERSION,
        )
        .await,
    );

    // DocWant{["_settings"]}: a valid message, but not Hello.
    let mut payload = vec![0x05, 0x01, 0x09];
    payload.extend_from_slice(b"_settings");
    let want = framed(&payload);
    cases.add(
        "handshake/not-hello-first",
        &["HS-VER-3"],
        "DocWant before Hello: close CLOSE_PROTOCOL",
        expect_close_after(dialer, target, false, &want, CloseCode::PROTOCOL).await,
    );

    // Versions [1, 1]: not strictly ascending, a structural rule of Hello (§11).
    let mut payload = vec![0x00, 0x02, 0x01, 0x01, 0x00];
    payload.extend_from_slice(&[0; 32]);
    cases.add(
        "handshake/hello-versions-not-ascending",
        &["HS-MSG-4", "HS-FRAME-3"],
        "Hello with versions [1,1]: malformed, close CLOSE_MALFORMED",
        expect_close_after(dialer, target, false, &framed(&payload), CloseCode::MALFORMED).await,
    );

    cases.add(
        "handshake/second-hello",
        &["HS-VER-3"],
        "a second Hello after Welcome: close CLOSE_PROTOCOL",
        expect_close_after(dialer, target, true, &encode(&hello(&[V1])), CloseCode::PROTOCOL).await,
    );

    let close = encode(&Message::Close {
        code: CloseCode(0x7fff_0000),
        reason: "conformance".into(),
    });
    cases.add(
        "handshake/close-before-welcome",
        &["HS-CLOSE-3"],
        "a Close frame (unknown code) before Hello is allowed: the node stops and closes, never CLOSE_MALFORMED",
        {
            match dialer.session(target).await {
                Err(end) => Verdict::Fail(format!("could not open a session: {end}")),
                Ok(mut wire) => {
                    wire.send_raw(&close).await;
                    let observed = wire.observe_close(after(target.timeout)).await;
                    match observed.end {
                        super::Ending::Closed(CloseCode::MALFORMED) => Verdict::Fail(format!(
                            "a valid Close frame was treated as malformed: {}",
                            observed.describe()
                        )),
                        _ if observed.messages.iter().any(|m| matches!(m, Message::Welcome { .. })) => {
                            Verdict::Fail("the node answered a Close with Welcome".into())
                        }
                        _ => Verdict::Pass,
                    }
                }
            }
        },
    );
}

/// Cases in which the runner closes the connection (a later handshake may see DUPLICATE).
pub(crate) async fn runner_closes(target: &Target, dialer: &Dialer, cases: &mut Cases) {
    let deadline = || after(target.timeout);
    match handshake(dialer, target, &hello(&[V1])).await {
        Ok((mut wire, first)) => {
            let verdict = match &first {
                Message::Welcome { version: V1, .. } => Verdict::Pass,
                other => Verdict::Fail(format!("expected Welcome{{version: 1}}, got {other:?}")),
            };
            cases.add(
                "handshake/v1",
                &["HS-VER-1", "HS-VER-2", "HS-TRANSPORT-1"],
                "Hello{versions:[1]} on ALPN humansync/1: the node's first frame is Welcome{version:1}",
                verdict,
            );
            // Our `_devices` digest is all zero, so it differs: the acceptor starts the
            // `_devices` sync right after Welcome, before anything else (HS-REG-10, HS-SYNC-6).
            let verdict = match wire.next_message(deadline()).await {
                Ok(Message::DocSync { doc, .. }) if doc.is_devices() => Verdict::Pass,
                Ok(other) => Verdict::Fail(format!(
                    "first message after Welcome was {} (expected DocSync for _devices)",
                    other.kind()
                )),
                Err(end) => Verdict::Fail(format!("no message after Welcome: {end}")),
            };
            cases.add(
                "handshake/devices-first",
                &["HS-REG-10", "HS-SYNC-6"],
                "devices digests differ: the node's first message after Welcome is DocSync{_devices}",
                verdict,
            );
            wire.close(CloseCode::NORMAL);
        }
        Err(end) => {
            for (id, reqs) in [
                ("handshake/v1", &["HS-VER-1", "HS-VER-2", "HS-TRANSPORT-1"][..]),
                ("handshake/devices-first", &["HS-REG-10", "HS-SYNC-6"][..]),
            ] {
                cases.add(
                    id,
                    reqs,
                    "a registered peer's Hello{versions:[1]} is answered with Welcome",
                    Verdict::Fail(format!("no Welcome: {end}")),
                );
            }
        }
    }

    // 1 is the only version in common with a node of either version (7 is undefined).
    let verdict = match handshake(dialer, target, &hello(&[1, 7])).await {
        Ok((wire, first)) => {
            wire.close(CloseCode::NORMAL);
            match first {
                Message::Welcome { version: V1, .. } => Verdict::Pass,
                other => Verdict::Fail(format!("expected Welcome{{version: 1}}, got {other:?}")),
            }
        }
        Err(end) => Verdict::Fail(format!("no Welcome: {end}")),
    };
    cases.add(
        "handshake/highest-common",
        &["HS-VER-2"],
        "Hello{versions:[1,7]}: Welcome with the highest common version, 1",
        verdict,
    );
}

/// HS-VER-3: a connection that never completes its Hello (half a frame header) is closed with
/// CLOSE_TIMEOUT once HANDSHAKE_TIMEOUT_MS have passed. Runs on its own identity.
pub(crate) async fn deadline(target: Target, dialer: Dialer) -> (Verdict, String) {
    let description =
        "half a frame header and nothing more: close CLOSE_TIMEOUT after HANDSHAKE_TIMEOUT_MS".to_owned();
    let mut wire = match dialer.session(&target).await {
        Ok(wire) => wire,
        Err(end) => {
            return (
                Verdict::Fail(format!("could not open a session: {end}")),
                description,
            );
        }
    };
    wire.send_raw(&[0x00, 0x00]).await;
    let wait = Duration::from_millis(HANDSHAKE_TIMEOUT_MS) + target.timeout;
    let observed = wire.observe_close(after(wait)).await;
    (expect_close(&observed, CloseCode::TIMEOUT), description)
}

fn encode(msg: &Message) -> Vec<u8> {
    // Every message built here is within its bounds: encoding cannot fail.
    encode_frame(msg).unwrap_or_default()
}

/// A frame around `payload` (built by hand, possibly invalid).
pub(crate) fn framed(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}
