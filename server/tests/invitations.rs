//! One-time invitations (SPEC.md §5.8) against a real server: minted on the host or by a paired
//! device, redeemed once by a new device with no password, refused when used, expired, revoked,
//! or minted by a device that was revoked since, and rate-limited like passwords.

mod support;

use humansync_protocol::invitation::{CreateInvitationRequest, CreateInvitationResponse, Invitation};
use humansync_protocol::login::SealedAnswer;
use humansync_sansio::pairing::GuardConfig;
use humansync_server::Overrides;
use humansync_server::admin_invite;
use reqwest::StatusCode;
use support::*;

/// Redeems `invitation` for `device` over raw HTTP.
async fn redeem(
    http: &reqwest::Client,
    invitation: &Invitation,
    device: &ed25519_dalek::SigningKey,
) -> Result<SealedAnswer, Refused> {
    let request = invitation.redeem_request(id(device), "phone");
    send(
        http.post(format!("{}/invitations/redeem", invitation.url))
            .json(&request),
    )
    .await
}

fn gone() -> Option<Refused> {
    Some((StatusCode::GONE, "invitation_invalid".into()))
}

#[tokio::test]
async fn a_host_invitation_pairs_one_device_once() {
    // HS-INV-1, HS-INV-2 (host CLI), HS-INV-3, HS-INV-4 (the answer is signed; the id pinned),
    // HS-INV-6 (listed with its state).
    let (sdir, adir, bdir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start_server(sdir.path(), Overrides::default()).await;
    let base = url(&server, "");
    let invitation = admin_invite::mint(sdir.path(), &base, 600_000, now_ms())
        .await
        .expect("minted");
    assert_eq!(invitation.server, server.id());
    assert!(
        !invitation.addrs.is_empty(),
        "the link carries the server's addresses"
    );
    let link = invitation.to_link();
    // A new device pairs with the link alone: no password, no server_url configured.
    let mut config = device_config(adir.path(), &server);
    config.server_url = None;
    let phone = humansync::init(config).await.expect("phone");
    phone
        .pair_with_invitation(&link)
        .await
        .expect("paired by invitation");
    eventually(20, "the phone has a session with the server", || async {
        connected(&phone, server.id()).await
    })
    .await;
    assert!(
        server
            .node()
            .registry()
            .await
            .expect("view")
            .is_registered(&phone.id())
    );
    // Single use: a second device is refused, and so is the same device again.
    let tablet = humansync::init(device_config(bdir.path(), &server))
        .await
        .expect("tablet");
    let err = tablet.pair_with_invitation(&link).await.expect_err("used");
    assert!(err.to_string().contains("invitation_invalid"), "{err}");
    assert!(
        !server
            .node()
            .registry()
            .await
            .expect("view")
            .is_registered(&tablet.id())
    );
    let rows = admin_invite::list(sdir.path()).await.expect("list");
    assert_eq!((rows.len(), rows[0].state(now_ms())), (1, "used"));
    assert_eq!(rows[0].used_by.as_deref(), Some(phone.id().to_string().as_str()));
    // A link for another server (pinned id) is refused before anything is sent.
    let mut forged = invitation.clone();
    forged.server = id(&key(9));
    let err = tablet
        .pair_with_invitation(&forged.to_link())
        .await
        .expect_err("forged");
    assert!(
        err.to_string().contains("invitation_invalid") || err.to_string().contains("not signed"),
        "{err}"
    );
    for node in [phone, tablet] {
        node.shutdown().await.expect("stop");
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn expired_revoked_and_orphaned_invitations_are_refused() {
    // HS-INV-2 (minted by a signed request), HS-INV-3, HS-INV-6 (revoked; the minter revoked).
    let dir = tempfile::tempdir().expect("dir");
    let clock = TestClock::new();
    let overrides = Overrides {
        clock: clock.clock(),
        guard: GuardConfig {
            failures_before_backoff: 1_000,
            lockout_failures: 1_000,
            ..GuardConfig::default()
        },
    };
    let server = start_server(dir.path(), overrides).await;
    let http = client();
    let base = url(&server, "");
    // Expiry.
    let expiring = admin_invite::mint(dir.path(), &base, 60_000, clock.now())
        .await
        .expect("minted");
    clock.advance(60_000);
    assert_eq!(redeem(&http, &expiring, &key(1)).await.err(), gone());
    // Revocation by the host CLI (by id prefix).
    let revoked = admin_invite::mint(dir.path(), &base, 60_000, clock.now())
        .await
        .expect("minted");
    let prefix = revoked.id().to_string()[..12].to_owned();
    assert_eq!(
        admin_invite::revoke(dir.path(), &prefix, clock.now())
            .await
            .expect("revoke"),
        1
    );
    assert_eq!(redeem(&http, &revoked, &key(1)).await.err(), gone());
    // Minted by a paired device through a signed request, which is revoked afterwards.
    let laptop = key(2);
    pair(&http, &base, &laptop, "laptop", PASSWORD)
        .await
        .expect("laptop");
    let mut by_laptop = Invitation {
        url: base.clone(),
        server: server.id(),
        secret: [5; 32],
        expires_at_ms: 0,
        addrs: Vec::new(),
    };
    let body = CreateInvitationRequest {
        invitation: by_laptop.id(),
        ttl_ms: None,
    };
    let unsigned = http
        .post(format!("{base}/invitations"))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(
        unsigned.status(),
        StatusCode::UNAUTHORIZED,
        "minting needs a registered device"
    );
    let auth = humansync_protocol::http::SignedAuth::sign(
        &laptop,
        "POST",
        "/invitations",
        clock.now(),
        rand_nonce(),
    );
    let minted: CreateInvitationResponse = send(
        http.post(format!("{base}/invitations"))
            .header("authorization", auth.to_header())
            .json(&body),
    )
    .await
    .expect("minted by the laptop");
    assert_eq!(
        minted.expires_at_ms,
        clock.now() + 600_000,
        "default lifetime: 10 min"
    );
    by_laptop.expires_at_ms = minted.expires_at_ms;
    revoke(&http, &base, id(&laptop), PASSWORD, None)
        .await
        .expect("laptop revoked");
    assert_eq!(redeem(&http, &by_laptop, &key(3)).await.err(), gone());
    // A proof for another device id (a captured request replayed with another key) does not verify.
    let fresh = admin_invite::mint(dir.path(), &base, 60_000, clock.now())
        .await
        .expect("minted");
    let mut stolen = fresh.redeem_request(id(&key(4)), "phone");
    stolen.node_id = id(&key(5));
    let r = send::<SealedAnswer>(http.post(format!("{base}/invitations/redeem")).json(&stolen)).await;
    assert_eq!(
        r.err(),
        Some((StatusCode::UNAUTHORIZED, "invitation_invalid".into()))
    );
    assert!(
        redeem(&http, &fresh, &key(4)).await.is_ok(),
        "the invitation itself is still good"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn guessing_invitations_is_rate_limited_like_passwords() {
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path(), Overrides::default()).await;
    let http = client();
    let base = url(&server, "");
    let mut refused = Vec::new();
    for i in 0..6u8 {
        let guess = Invitation {
            url: base.clone(),
            server: server.id(),
            secret: [i; 32],
            expires_at_ms: u64::MAX,
            addrs: Vec::new(),
        };
        refused.push(redeem(&http, &guess, &key(1)).await.err().map(|e| e.0));
    }
    // HS-INV-5: three failures per source, then backoff (429).
    let unauthorized = Some(StatusCode::UNAUTHORIZED);
    let limited = Some(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused,
        [
            unauthorized,
            unauthorized,
            unauthorized,
            limited,
            limited,
            limited
        ]
    );
    // Password pairing has its own budget: the guesses did not lock it.
    pair(&http, &base, &key(2), "laptop", PASSWORD)
        .await
        .expect("pairing still works");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_paired_device_mints_an_invitation_for_another() {
    // HS-INV-2, HS-INV-4, HS-PAIR-8 (the server id pinned from the link).
    let (sdir, adir, bdir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let server = start_server(sdir.path(), Overrides::default()).await;
    let laptop = start_device(adir.path(), &server).await;
    assert!(
        laptop.create_invitation(None).await.is_err(),
        "an unpaired device cannot mint"
    );
    laptop.pair(PASSWORD).await.expect("laptop pairs");
    let invitation = laptop.create_invitation(None).await.expect("minted");
    assert_eq!(invitation.server, server.id());
    let link = invitation.to_link();
    let qr = humansync::render_qr(&link).expect("qr");
    assert!(qr.lines().count() > 20, "a QR code of the link:\n{qr}");
    let mut config = device_config(bdir.path(), &server);
    config.server_url = None;
    let phone = humansync::init(config).await.expect("phone");
    phone.pair_with_invitation(&link).await.expect("phone pairs");
    eventually(20, "the laptop and the phone admit each other", || async {
        let view = laptop.registry().await.expect("view");
        view.is_registered(&phone.id())
    })
    .await;
    for node in [laptop, phone] {
        node.shutdown().await.expect("stop");
    }
    server.shutdown().await.expect("shutdown");
}
