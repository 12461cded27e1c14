//! Admission: unregistered and revoked ids get nothing, on the sync and the blobs ALPN
//! (HS-GATE-2..4, HS-CLOSE-2, HS-BLOB-3).

use humansync_protocol::{BlobHash, CloseCode, Message, V1};

use super::super::enroll::Enrollment;
use super::super::wire::{Dialer, Ending, after, connection_ending};
use super::super::{Cases, Target};
use super::{expect_close, handshake, hello};
use crate::report::Verdict;

/// An unregistered id: its Hello gets zero bytes back and the connection is closed with
/// CLOSE_NOT_REGISTERED.
pub(crate) async fn unregistered_session(target: &Target, dialer: &Dialer, cases: &mut Cases) {
    cases.add(
        "gate/unregistered",
        &["HS-GATE-1", "HS-GATE-2", "HS-GATE-3", "HS-CLOSE-2"],
        "an unregistered id sends the same Hello bytes a registered id gets Welcome for: zero application bytes, close CLOSE_NOT_REGISTERED (identity comes from TLS only)",
        refused(target, dialer, CloseCode::NOT_REGISTERED).await,
    );
}

/// Dials, sends Hello, and expects the close `want` with zero bytes received.
async fn refused(target: &Target, dialer: &Dialer, want: CloseCode) -> Verdict {
    let mut wire = match dialer.session(target).await {
        Ok(wire) => wire,
        Err(Ending::Closed(code)) if code == want => return Verdict::Pass,
        Err(end) => return Verdict::Fail(format!("expected a close with {}; got: {end}", want.name())),
    };
    wire.send_raw(&humansync_protocol::encode_frame(&hello(&[V1])).unwrap_or_default())
        .await;
    let observed = wire.observe_close(after(target.timeout)).await;
    if observed.bytes > 0 {
        return Verdict::Fail(format!(
            "a refused peer received application bytes: {}",
            observed.describe()
        ));
    }
    expect_close(&observed, want)
}

/// A registered id fetches a blob the node holds over the blobs ALPN (content verified by
/// BLAKE3 while streaming). True when the blob arrived complete.
pub(crate) async fn registered_blob(
    target: &Target,
    dialer: &Dialer,
    blob: Option<BlobHash>,
    cases: &mut Cases,
) -> bool {
    let description = "a registered id fetches a blob referenced by the node's documents";
    let Some(hash) = blob else {
        cases.add(
            "blob/registered-fetch",
            &["HS-BLOB-3"],
            description,
            Verdict::Skipped("the node's documents reference no blob".into()),
        );
        return false;
    };
    let verdict = match dialer.connect(target, iroh_blobs::ALPN).await {
        Err(end) => Verdict::Fail(format!("blobs connection refused: {end}")),
        Ok(conn) => {
            let got = tokio::time::timeout(
                target.timeout,
                iroh_blobs::get::request::get_blob(conn.clone(), iroh_blobs::Hash::from_bytes(hash.0)),
            )
            .await;
            conn.close(0u32.into(), b"done");
            match got {
                Err(_) => Verdict::Fail("the blob did not arrive in time".into()),
                Ok(Err(e)) => Verdict::Fail(format!("fetch failed: {e}")),
                Ok(Ok(bytes)) if BlobHash(*blake3::hash(&bytes).as_bytes()) == hash => Verdict::Pass,
                Ok(Ok(_)) => Verdict::Fail("the bytes do not hash to the requested blob".into()),
            }
        }
    };
    let fetched = verdict == Verdict::Pass;
    cases.add("blob/registered-fetch", &["HS-BLOB-3"], description, verdict);
    fetched
}

/// An unregistered id asks for a blob over the blobs ALPN: no content, close
/// CLOSE_NOT_REGISTERED (the node's blob when known, else a random hash).
pub(crate) async fn unregistered_blob(
    target: &Target,
    dialer: &Dialer,
    blob: Option<BlobHash>,
    cases: &mut Cases,
) {
    let hash = blob.unwrap_or(BlobHash(*blake3::hash(b"humansync conformance").as_bytes()));
    let verdict = match dialer.connect(target, iroh_blobs::ALPN).await {
        Err(Ending::Closed(CloseCode::NOT_REGISTERED)) => Verdict::Pass,
        Err(end) => Verdict::Fail(format!("expected a close with CLOSE_NOT_REGISTERED; got: {end}")),
        Ok(conn) => {
            let got = tokio::time::timeout(
                target.timeout,
                iroh_blobs::get::request::get_blob(conn.clone(), iroh_blobs::Hash::from_bytes(hash.0)),
            )
            .await;
            let end = match tokio::time::timeout(target.timeout, conn.closed()).await {
                Ok(e) => connection_ending(&e),
                Err(_) => Ending::StillOpen,
            };
            match (got, end) {
                (Ok(Ok(_)), _) => Verdict::Fail("an unregistered id received the blob".into()),
                (_, Ending::Closed(CloseCode::NOT_REGISTERED)) => Verdict::Pass,
                (_, end) => Verdict::Fail(format!("expected a close with CLOSE_NOT_REGISTERED; got: {end}")),
            }
        }
    };
    cases.add(
        "blob/unregistered",
        &["HS-BLOB-3", "HS-GATE-3"],
        "an unregistered id requests a blob on the blobs ALPN: no content, close CLOSE_NOT_REGISTERED",
        verdict,
    );
}

/// A registered id with an open session is revoked: the session is closed with
/// CLOSE_REVOKED at once (HS-GATE-4), and a new dial is refused with zero bytes.
pub(crate) async fn revocation(
    target: &Target,
    dialer: &Dialer,
    enrollment: &mut Enrollment,
    cases: &mut Cases,
) {
    let disconnected = "a registered id's open session is closed with CLOSE_REVOKED when it is revoked";
    let refused_desc = "a revoked id sends Hello: zero application bytes, close CLOSE_REVOKED";
    let wire = match handshake(dialer, target, &hello(&[V1])).await {
        Ok((wire, Message::Welcome { .. })) => wire,
        Ok((_, other)) => {
            fail_both(
                cases,
                disconnected,
                refused_desc,
                &format!("handshake answered {}", other.kind()),
            );
            return;
        }
        Err(end) => {
            fail_both(
                cases,
                disconnected,
                refused_desc,
                &format!("a registered id was not admitted: {end}"),
            );
            return;
        }
    };
    if let Err(e) = enrollment.revoke(target, dialer.id).await {
        fail_both(
            cases,
            disconnected,
            refused_desc,
            &format!("could not revoke: {e}"),
        );
        return;
    }
    let observed = wire.observe_close(after(target.timeout)).await;
    cases.add(
        "gate/revoked-disconnected",
        &["HS-GATE-4"],
        disconnected,
        expect_close(&observed, CloseCode::REVOKED),
    );
    cases.add(
        "gate/revoked-refused",
        &["HS-GATE-2", "HS-GATE-3", "HS-CLOSE-2", "HS-REG-4"],
        refused_desc,
        refused(target, dialer, CloseCode::REVOKED).await,
    );
}

fn fail_both(cases: &mut Cases, disconnected: &str, refused: &str, why: &str) {
    cases.add(
        "gate/revoked-disconnected",
        &["HS-GATE-4"],
        disconnected,
        Verdict::Fail(why.into()),
    );
    cases.add(
        "gate/revoked-refused",
        &["HS-GATE-2", "HS-GATE-3", "HS-CLOSE-2", "HS-REG-4"],
        refused,
        Verdict::Fail(why.into()),
    );
}
