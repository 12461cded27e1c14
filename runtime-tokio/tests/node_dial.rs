//! The connection policy end to end over real iroh connections on loopback: a node revoked in
//! its own view closes every session and dials nobody (HS-GATE-5), counted in dial attempts.

mod node_support;

use node_support::*;

/// HS-GATE-5: B learns that it is revoked while A, which has not heard of it yet, still admits
/// B. B closes its session, and its dial attempts stop: none in the seconds after, although A
/// would accept it (about two a second before the fix).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_revoked_node_makes_no_dial_attempt_and_closes_every_session() {
    let (_da, _db, mut anchor, a, b) = paired_pair(21).await;
    eventually(10, "connected", || async {
        b.sync_status().await.map(|s| s.peers.len() == 1).unwrap_or(false)
    })
    .await;

    anchor.revoke(b.id());
    b.apply_pairing(anchor.pairing())
        .await
        .expect("B learns its own revocation");
    eventually(5, "B closed every session", || async {
        b.stats().await.map(|s| s.sessions.is_empty()).unwrap_or(false)
    })
    .await;
    let dials_then = b.stats().await.expect("stats").totals.dials_started;
    // A's dialer ticks and the core's backoff would both have fired several times by now.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let stats = b.stats().await.expect("stats");
    assert_eq!(
        stats.totals.dials_started - dials_then,
        0,
        "dial attempts after B learned it is revoked"
    );
    assert!(
        stats.sessions.is_empty(),
        "B holds no session: {:?}",
        stats.sessions
    );
    let status = a.sync_status().await.expect("status");
    assert!(
        status.peers.iter().all(|p| p.peer != b.id()),
        "A still lists B as a connected peer"
    );
    a.shutdown().await.expect("shutdown");
    b.shutdown().await.expect("shutdown");
}
