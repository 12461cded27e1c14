//! The peer checks, in the order they run, and the helpers they share.
//!
//! Order matters for one reason: a node keeps the older of two sessions from the same peer
//! (HS-TRANSPORT-4), and the runner cannot know when the node has processed a close the runner
//! sent. So checks in which the *node* closes the connection run first, and every later
//! handshake retries after a pause when it is closed with `CLOSE_DUPLICATE`.

mod docs;
mod frames;
mod gating;
mod handshake;
mod live;
mod sync;
mod transport;

use std::time::Duration;

use humansync_protocol::{CloseCode, DeviceId, DocDigest, Fingerprint, Message, SetSummary, V1};

use super::enroll::Enrollment;
use super::wire::{Dialer, Ending, Observed, Wire, after};
use super::{Cases, PeerError, Target, TargetSpec, random32};
use crate::report::Verdict;

/// How often a handshake closed as a duplicate is retried.
pub(crate) const DUPLICATE_RETRIES: usize = 20;
/// The pause between those retries.
pub(crate) const DUPLICATE_PAUSE: Duration = Duration::from_millis(250);

/// Runs every check; registered checks are Skipped without an enrollment.
pub(crate) async fn run_all(
    spec: &TargetSpec,
    mut enrollment: Option<Enrollment>,
    cases: &mut Cases,
) -> Result<(), PeerError> {
    let secrets = [random32()?, random32()?, random32()?];
    let ids = secrets
        .iter()
        .map(|s| DeviceId::from(&ed25519_dalek::SigningKey::from_bytes(s)))
        .collect::<Vec<_>>();
    let early = spec.resolve(None).ok();
    let records = match enrollment.as_mut() {
        Some(e) => Some(e.register(early.as_ref(), &ids).await?),
        None => None,
    };
    let target = &spec.resolve(enrollment.as_ref())?;
    let family = target.addrs[0];
    let stranger = Dialer::bind(random32()?, &family).await?;
    gating::unregistered_session(target, &stranger, cases).await;
    let (Some(mut enrollment), Some(records)) = (enrollment, records) else {
        let reason =
            "no registration: give --anchor-key-file (library node) or --server-url and --password (server)";
        for (id, reqs) in REGISTERED_CASES {
            cases.add(
                id,
                reqs,
                "needs a registered runner identity",
                Verdict::Skipped(reason.into()),
            );
        }
        gating::unregistered_blob(target, &stranger, None, cases).await;
        stranger.close().await;
        return Ok(());
    };
    let runner = Dialer::bind(secrets[0], &family).await?;
    let idler = Dialer::bind(secrets[1], &family).await?;
    let doomed = Dialer::bind(secrets[2], &family).await?;
    let anchor = enrollment
        .anchor()
        .ok_or_else(|| PeerError::Setup("registration gave no anchor".into()))?;

    // HS-VER-3's deadline is 10 s: let it run while the other checks do.
    let timeout_check = tokio::spawn(handshake::deadline(target.clone(), idler.clone()));

    handshake::node_closes(target, &runner, cases).await;
    frames::all(target, &runner, cases).await;
    transport::extra_stream(target, &runner, cases).await;
    transport::duplicate_session(target, &runner, cases).await;
    handshake::runner_closes(target, &runner, cases).await;
    let blob = sync::converge(target, &runner, anchor, &records, cases).await;
    docs::all(target, &runner, cases).await;
    let fetched = gating::registered_blob(target, &runner, blob, cases).await;
    live::want_have(target, &runner, blob.filter(|_| fetched), cases).await;
    gating::unregistered_blob(target, &stranger, blob, cases).await;
    live::live_push(target, &runner, &doomed, anchor, &records, cases).await;
    gating::revocation(target, &doomed, &mut enrollment, cases).await;

    match timeout_check.await {
        Ok((verdict, description)) => cases.add(
            "handshake/deadline",
            &["HS-VER-3", "HS-CLOSE-1"],
            &description,
            verdict,
        ),
        Err(e) => cases.add(
            "handshake/deadline",
            &["HS-VER-3"],
            "no complete Hello within HANDSHAKE_TIMEOUT_MS: CLOSE_TIMEOUT",
            Verdict::Fail(format!("the check itself failed: {e}")),
        ),
    }
    for dialer in [&stranger, &runner, &idler, &doomed] {
        dialer.close().await;
    }
    Ok(())
}

/// Case ids and requirements that need a registered identity (listed as Skipped without one).
const REGISTERED_CASES: &[(&str, &[&str])] = &[
    ("handshake/v1", &["HS-VER-1", "HS-VER-2", "HS-TRANSPORT-1"]),
    ("handshake/devices-first", &["HS-REG-10", "HS-SYNC-6"]),
    ("handshake/unsupported-version", &["HS-VER-2", "HS-CLOSE-1"]),
    ("handshake/not-hello-first", &["HS-VER-3"]),
    ("frame/too-large", &["HS-FRAME-2"]),
    ("sync/converge", &["HS-RECON-1", "HS-RECON-7", "HS-SYNC-2"]),
    ("gate/revoked-disconnected", &["HS-GATE-4"]),
    ("gate/revoked-refused", &["HS-GATE-2", "HS-GATE-3"]),
    ("blob/registered-fetch", &["HS-BLOB-3"]),
    ("doc/docsync-creates", &["HS-SYNC-5"]),
    ("doc/unloadable-discarded", &["HS-SYNC-10", "HS-SYNC-12"]),
    ("transport/extra-stream", &["HS-TRANSPORT-2"]),
    (
        "transport/duplicate-session",
        &["HS-TRANSPORT-4", "HS-TRANSPORT-3"],
    ),
    ("blob/want-have", &["HS-BLOB-2"]),
    ("sync/live-push", &["HS-SYNC-4"]),
];

/// A Hello offering `versions`, with an empty set and an all-zero `_devices` digest (which
/// differs from any real one, so the node starts `_devices` sync, HS-REG-10).
pub(crate) fn hello(versions: &[u16]) -> Message {
    Message::Hello {
        versions: versions.to_vec(),
        set: SetSummary {
            count: 0,
            fingerprint: Fingerprint::EMPTY,
        },
        devices: DocDigest([0; 16]),
    }
}

/// Opens a session, sends `hello` and waits for the first message, retrying while the node
/// closes the new session as a duplicate of one it has not yet seen us close.
pub(crate) async fn handshake(
    dialer: &Dialer,
    target: &Target,
    hello: &Message,
) -> Result<(Wire, Message), Ending> {
    let mut last = Ending::StillOpen;
    for _ in 0..DUPLICATE_RETRIES {
        let mut wire = match dialer.session(target).await {
            Ok(wire) => wire,
            Err(end @ Ending::Closed(CloseCode::DUPLICATE)) => {
                last = end;
                tokio::time::sleep(DUPLICATE_PAUSE).await;
                continue;
            }
            Err(end) => return Err(end),
        };
        if wire.send(hello).await.is_err() {
            return Err(Ending::Other("could not encode Hello".into()));
        }
        match wire.next_message(after(target.timeout)).await {
            Ok(msg) => return Ok((wire, msg)),
            Err(end @ Ending::Closed(CloseCode::DUPLICATE)) => {
                last = end;
                tokio::time::sleep(DUPLICATE_PAUSE).await;
            }
            Err(end) => return Err(end),
        }
    }
    Err(last)
}

/// Pass if the node closed with `want` (after at most a Close frame with the same code,
/// HS-CLOSE-2), else Fail with what happened.
pub(crate) fn expect_close(observed: &Observed, want: CloseCode) -> Verdict {
    let close_frame = observed.messages.iter().find_map(|m| match m {
        Message::Close { code, .. } => Some(*code),
        _ => None,
    });
    match (&observed.end, close_frame) {
        (Ending::Closed(code), Some(frame)) if *code == want && frame != want => Verdict::Fail(format!(
            "closed with {} but its Close frame said {} (HS-CLOSE-2: the same code)",
            want.name(),
            frame.name()
        )),
        (Ending::Closed(code), _) if *code == want => Verdict::Pass,
        _ => Verdict::Fail(format!(
            "expected a close with {} ({}); got: {}",
            want.0,
            want.name(),
            observed.describe()
        )),
    }
}

/// Sends `bytes` on a fresh session, after a completed handshake if `after_handshake`, and
/// checks that the node closes with `want`.
pub(crate) async fn expect_close_after(
    dialer: &Dialer,
    target: &Target,
    after_handshake: bool,
    bytes: &[u8],
    want: CloseCode,
) -> Verdict {
    let mut wire = if after_handshake {
        match handshake(dialer, target, &hello(&[V1])).await {
            Ok((wire, Message::Welcome { .. })) => wire,
            Ok((_, other)) => return Verdict::Fail(format!("handshake answered with {}", other.kind())),
            Err(end) => return Verdict::Fail(format!("handshake failed: {end}")),
        }
    } else {
        match dialer.session(target).await {
            Ok(wire) => wire,
            Err(end) => return Verdict::Fail(format!("could not open a session: {end}")),
        }
    };
    wire.send_raw(bytes).await;
    let observed = wire.observe_close(after(target.timeout)).await;
    expect_close(&observed, want)
}
