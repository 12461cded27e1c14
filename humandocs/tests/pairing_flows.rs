//! Pairing, invitations and revocation through the app's own requests (what `humandocs pair`,
//! `humandocs invite` and `humandocs revoke` send over the socket), against a real server:
//! SQLite, OPAQUE over plain http on loopback, iroh on 127.0.0.1 with relays off (HS-PAIR-11,
//! HS-INV-1..4, HS-HTTP-8).

mod support;

use humandocs::ipc::Request;
use humansync::RelayConfig;
use serde_json::Value;
use support::{eventually, start};

const PASSWORD: &str = "a long server password";

async fn server(dir: &std::path::Path) -> humansync_server::RunningServer {
    let mut config = humansync_server::ServerConfig::new(dir);
    config.password = Some(PASSWORD.into());
    config.http_addr = "127.0.0.1:0".parse().expect("addr");
    config.iroh_port = 0;
    config.iroh_bind = Some("127.0.0.1".parse().expect("ip"));
    config.relay = RelayConfig::Disabled;
    humansync_server::start(config, humansync_server::Overrides::default())
        .await
        .expect("server starts")
}

async fn status(app: &humandocs::App) -> Value {
    app.handle(Request::Status).await.expect("status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_by_password_invite_a_phone_then_revoke_it() {
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().expect("dir")).collect();
    let server = server(dirs[0].path()).await;
    let url = format!("http://{}", server.http_addr());
    let laptop = start(dirs[1].path()).await;
    let phone = start(dirs[2].path()).await;
    let thief = start(dirs[3].path()).await;

    // A wrong password pairs nothing.
    let wrong = laptop
        .handle(Request::Pair {
            url: url.clone(),
            password: Some("not it".into()),
        })
        .await
        .expect_err("wrong password");
    assert_eq!(wrong.code(), "wrong_password", "{wrong}");
    assert_eq!(status(&laptop).await["paired"], Value::Bool(false));

    // The laptop pairs by URL and password.
    let paired = laptop
        .handle(Request::Pair {
            url: url.clone(),
            password: Some(PASSWORD.into()),
        })
        .await
        .expect("laptop pairs");
    assert_eq!(paired["paired"], Value::Bool(true), "{paired}");
    assert_eq!(
        paired["server_id"].as_str(),
        Some(server.id().to_string().as_str())
    );

    // It mints an invitation: a one-line link and a QR code.
    let invitation = laptop
        .handle(Request::Invite { minutes: Some(5) })
        .await
        .expect("invite");
    let link = invitation["link"].as_str().expect("link").to_owned();
    assert!(
        link.starts_with("humansync://pair?") && !link.contains('\n'),
        "{link}"
    );
    assert!(invitation["qr"].as_str().expect("qr").lines().count() > 10);

    // The phone pairs with the link alone; the link works once.
    let phone_paired = phone
        .handle(Request::Pair {
            url: link.clone(),
            password: None,
        })
        .await
        .expect("phone pairs by invitation");
    assert_eq!(phone_paired["paired"], Value::Bool(true), "{phone_paired}");
    let reused = thief
        .handle(Request::Pair {
            url: link,
            password: None,
        })
        .await
        .expect_err("an invitation is single use");
    assert_eq!(reused.code(), "pairing_failed", "{reused}");
    assert_eq!(status(&thief).await["paired"], Value::Bool(false));

    // A note from the laptop reaches the phone through the server.
    let note = laptop
        .handle(Request::Create {
            title: "groceries".into(),
            body: "milk".into(),
        })
        .await
        .expect("create");
    let note_id = note["id"].as_str().expect("id").to_owned();
    eventually(30, "the note reaches the phone", || async {
        phone.handle(Request::Show { id: note_id.clone() }).await.is_ok()
    })
    .await;
    eventually(30, "the phone is connected to the server", || async {
        status(&phone).await["server_connected"] == Value::Bool(true)
    })
    .await;

    // Revoking needs the password: a wrong one is refused, the right one revokes.
    let phone_id = phone.node().id().to_string();
    let refused = laptop
        .handle(Request::Revoke {
            device: phone_id.clone(),
            password: "not it".into(),
        })
        .await
        .expect_err("wrong password");
    assert_eq!(refused.code(), "wrong_password", "{refused}");
    let revoked = laptop
        .handle(Request::Revoke {
            device: phone_id,
            password: PASSWORD.into(),
        })
        .await
        .expect("revoke");
    assert!(revoked["revoked_at_ms"].as_u64().is_some(), "{revoked}");

    // The phone is cut off: no session with the server, and no more notes reach it.
    eventually(30, "the server closes the phone's session", || async {
        let s = status(&phone).await;
        s["server_connected"] == Value::Bool(false) && s["peers"].as_array().is_some_and(|p| p.is_empty())
    })
    .await;

    for app in [laptop, phone, thief] {
        app.node().clone().shutdown().await.expect("shutdown");
    }
    server.shutdown().await.expect("server shutdown");
}
