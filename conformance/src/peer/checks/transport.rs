//! Transport rules on registered sessions: an additional stream is refused (HS-TRANSPORT-2) and
//! a second session from the same peer loses the tie-break to the older one (HS-TRANSPORT-4,
//! HS-TRANSPORT-3).

use humansync_protocol::{CloseCode, DocId, Message, V1};
use iroh::endpoint::{ConnectionError, StoppedError, VarInt};

use super::super::wire::{Dialer, Wire, after};
use super::super::{Cases, Target, random32};
use super::{expect_close, handshake, hello};
use crate::report::Verdict;

const EXTRA_STREAM: &str = "after the handshake the runner opens a second bidirectional and a unidirectional stream and \
writes a byte on each: the node stops both with CLOSE_PROTOCOL (or closes the connection with it)";
const DUPLICATE: &str = "the runner dials a second session while its first is open (as a peer that lost the first \
does): the node closes the older one with CLOSE_DUPLICATE and keeps the newer (which answers a DocWant with DocMissing)";

/// `transport/extra-stream` (HS-TRANSPORT-2).
pub(crate) async fn extra_stream(target: &Target, dialer: &Dialer, cases: &mut Cases) {
    let verdict = match handshake(dialer, target, &hello(&[V1])).await {
        Ok((wire, Message::Welcome { .. })) => {
            let verdict = refuses_streams(&wire, target).await;
            wire.close(CloseCode::NORMAL);
            verdict
        }
        Ok((_, other)) => Verdict::Fail(format!("handshake answered with {}", other.kind())),
        Err(end) => Verdict::Fail(format!("no Welcome: {end}")),
    };
    cases.add(
        "transport/extra-stream",
        &["HS-TRANSPORT-2", "HS-CLOSE-1"],
        EXTRA_STREAM,
        verdict,
    );
}

async fn refuses_streams(wire: &Wire, target: &Target) -> Verdict {
    let bi = match wire.conn.open_bi().await {
        Ok((mut send, _recv)) => {
            let _ = send.write_all(&[0]).await;
            tokio::time::timeout(target.timeout, send.stopped()).await
        }
        Err(e) => return Verdict::Fail(format!("could not open a second stream: {e}")),
    };
    if let Some(why) = refused(bi, "bidirectional") {
        return why;
    }
    let uni = match wire.conn.open_uni().await {
        Ok(mut send) => {
            let _ = send.write_all(&[0]).await;
            tokio::time::timeout(target.timeout, send.stopped()).await
        }
        // The node closed the connection after the first stream: what it closed with counts.
        Err(ConnectionError::ApplicationClosed(close)) if close.error_code == code(CloseCode::PROTOCOL) => {
            return Verdict::Pass;
        }
        Err(e) => return Verdict::Fail(format!("could not open a unidirectional stream: {e}")),
    };
    refused(uni, "unidirectional").unwrap_or(Verdict::Pass)
}

/// `None` when the stream was stopped with CLOSE_PROTOCOL, else the verdict to report (a
/// connection closed with CLOSE_PROTOCOL also refuses the stream: Pass).
fn refused(
    stopped: Result<Result<Option<VarInt>, StoppedError>, tokio::time::error::Elapsed>,
    what: &str,
) -> Option<Verdict> {
    let protocol = code(CloseCode::PROTOCOL);
    match stopped {
        Ok(Ok(Some(c))) if c == protocol => None,
        Ok(Ok(Some(c))) => Some(Verdict::Fail(format!(
            "the {what} stream was stopped with code {c}, not CLOSE_PROTOCOL (3)"
        ))),
        Ok(Ok(None)) => Some(Verdict::Fail(format!(
            "the {what} stream was accepted (its byte acknowledged, never stopped)"
        ))),
        Ok(Err(StoppedError::ConnectionLost(ConnectionError::ApplicationClosed(close))))
            if close.error_code == protocol =>
        {
            Some(Verdict::Pass)
        }
        Ok(Err(e)) => Some(Verdict::Fail(format!("the {what} stream ended otherwise: {e}"))),
        Err(_) => Some(Verdict::Fail(format!(
            "the {what} stream was neither stopped nor refused in time"
        ))),
    }
}

fn code(code: CloseCode) -> VarInt {
    VarInt::from_u32(code.0)
}

/// `transport/duplicate-session` (HS-TRANSPORT-4; with HS-TRANSPORT-3, either side may close the
/// loser, and the node must not keep both).
pub(crate) async fn duplicate_session(target: &Target, dialer: &Dialer, cases: &mut Cases) {
    let verdict = duplicate(target, dialer).await;
    cases.add(
        "transport/duplicate-session",
        &["HS-TRANSPORT-4", "HS-TRANSPORT-3", "HS-CLOSE-1"],
        DUPLICATE,
        verdict,
    );
}

async fn duplicate(target: &Target, dialer: &Dialer) -> Verdict {
    let first = match handshake(dialer, target, &hello(&[V1])).await {
        Ok((wire, Message::Welcome { .. })) => wire,
        Ok((_, other)) => return Verdict::Fail(format!("first handshake answered with {}", other.kind())),
        Err(end) => return Verdict::Fail(format!("first handshake got no Welcome: {end}")),
    };
    // Both sessions dialled by the same side: the peer lost the first, so the newer one wins.
    let mut second = match handshake(dialer, target, &hello(&[V1])).await {
        Ok((wire, Message::Welcome { .. })) => wire,
        Ok((_, other)) => {
            first.close(CloseCode::NORMAL);
            return Verdict::Fail(format!("second handshake answered with {}", other.kind()));
        }
        Err(end) => {
            first.close(CloseCode::NORMAL);
            return Verdict::Fail(format!("the second session got no Welcome: {end}"));
        }
    };
    let observed = first.observe_close(after(target.timeout)).await;
    match expect_close(&observed, CloseCode::DUPLICATE) {
        Verdict::Pass => newer_alive(&mut second, target).await,
        other => {
            second.close(CloseCode::NORMAL);
            other
        }
    }
}

/// The newer session works: a DocWant for an id nobody holds is answered DocMissing.
async fn newer_alive(second: &mut Wire, target: &Target) -> Verdict {
    let tag = random32().map(|b| hex::encode(&b[..6])).unwrap_or_default();
    let Ok(nothing) = DocId::new(format!("conformance/{tag}/nobody-holds-this")) else {
        return Verdict::Fail("could not build a document id".into());
    };
    let _ = second
        .send(&Message::DocWant {
            docs: vec![nothing.clone()],
        })
        .await;
    let deadline = after(target.timeout);
    let verdict = loop {
        match second.next_message(deadline).await {
            Ok(Message::DocMissing { doc }) if doc == nothing => break Verdict::Pass,
            Ok(_) => continue,
            Err(end) => {
                break Verdict::Fail(format!(
                    "the older session was closed with CLOSE_DUPLICATE, but the newer one did not answer: {end}"
                ));
            }
        }
    };
    second.close(CloseCode::NORMAL);
    verdict
}
