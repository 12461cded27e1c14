//! The `devices list` / `devices revoke` commands work on the data directory of a running server,
//! which applies a CLI revocation by itself (polling its SQLite registry).

mod support;

use humansync_server::{Overrides, admin};
use reqwest::StatusCode;
use support::*;

#[tokio::test]
async fn cli_revocation_reaches_a_running_server() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(matches!(
        admin::list(dir.path()).await,
        Err(admin::AdminError::NoIdentity(_))
    ));
    let server = start_server(dir.path(), Overrides::default()).await;
    let laptop = key(1);
    pair(&client(), &url(&server, ""), &laptop, "laptop", PASSWORD)
        .await
        .expect("paired");
    let listed = admin::list(dir.path()).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].node_id, id(&laptop));
    assert_eq!(listed[0].revoked_at_ms, None);
    assert!(matches!(
        admin::revoke(dir.path(), &id(&key(2)).to_string(), 5).await,
        Err(admin::AdminError::NotFound(_))
    ));
    assert!(matches!(
        admin::revoke(dir.path(), "nope", 5).await,
        Err(admin::AdminError::BadId(_))
    ));
    assert_eq!(
        admin::revoke(dir.path(), &id(&laptop).to_string(), 5)
            .await
            .expect("revoke"),
        (5, true)
    );
    assert_eq!(
        admin::revoke(dir.path(), &id(&laptop).to_string(), 9)
            .await
            .expect("again"),
        (5, false)
    );
    eventually(10, "the running server applied the CLI revocation", || async {
        server
            .node()
            .registry()
            .await
            .expect("registry")
            .is_revoked(&id(&laptop))
    })
    .await;
    let r = client()
        .get(url(&server, "/devices"))
        .header("authorization", signed(&laptop, now_ms(), [1; 16]))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The API returns the CLI's record: one Revoked record per device (HS-REG-11).
    let r = revoke(&client(), &url(&server, ""), id(&laptop), PASSWORD, None)
        .await
        .expect("revoke");
    assert_eq!(r.revoked_at_ms, 5);
    assert_eq!(
        admin::list(dir.path()).await.expect("list")[0].revoked_at_ms,
        Some(5)
    );
    server.shutdown().await.expect("shutdown");
}
