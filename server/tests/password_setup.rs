//! HS-PAIR-1 against a real server and its SQLite file: the password is kept only as an OPAQUE
//! record, survives restarts without the password, is replaced when the configured password
//! changes, and a HumanSync 0.1 data directory (an argon2id hash) is migrated at the first start
//! with the password, or refused with a clear error without it.

mod support;

use humansync_server::Overrides;
use humansync_server::db::Db;
use humansync_server::password::{PasswordError, PasswordSetup, PasswordStore};
use humansync_server::server::{DB_FILE, ServerError};
use reqwest::StatusCode;
use support::*;

fn files_hold(dir: &std::path::Path, needle: &[u8]) -> bool {
    ["registry.db", "registry.db-wal"].iter().any(|f| {
        std::fs::read(dir.join(f))
            .unwrap_or_default()
            .windows(needle.len())
            .any(|w| w == needle)
    })
}

#[tokio::test]
async fn the_record_survives_restarts_and_follows_a_password_change() {
    let dir = tempfile::tempdir().expect("dir");
    // Issue 16 §3: the data directory is 0700 and the database files 0600, whatever the umask
    // (the directory exists already, world-readable, as `docker volume` or mkdir leave it).
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let server = start_server(dir.path(), Overrides::default()).await;
    let first_id = server.id();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700, "data directory");
        for file in ["registry.db", "registry.db-wal"] {
            assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
        }
    }
    let http = client();
    pair(&http, &url(&server, ""), &key(1), "laptop", PASSWORD)
        .await
        .expect("paired");
    server.shutdown().await.expect("shutdown");
    assert!(
        !files_hold(dir.path(), PASSWORD.as_bytes()),
        "the password is never stored"
    );
    assert!(!files_hold(dir.path(), b"$argon2id$"), "nor a plain hash of it");

    // Restart without a password: the stored record is used; same id and registry.
    let mut config = server_config(dir.path());
    config.password = None;
    let server = humansync_server::start(config.clone(), Overrides::default())
        .await
        .expect("restart");
    assert_eq!(server.id(), first_id);
    assert!(
        server
            .node()
            .registry()
            .await
            .expect("view")
            .is_registered(&id(&key(1)))
    );
    pair(&http, &url(&server, ""), &key(2), "phone", PASSWORD)
        .await
        .expect("phone");
    server.shutdown().await.expect("shutdown");

    // A changed password replaces the record: the old one fails on the device, the new works.
    config.password = Some("a new password".into());
    let server = humansync_server::start(config, Overrides::default())
        .await
        .expect("restart");
    let base = url(&server, "");
    assert_eq!(
        pair(&http, &base, &key(3), "tablet", PASSWORD).await.err(),
        Some((StatusCode::UNAUTHORIZED, "wrong_password".into()))
    );
    pair(&http, &base, &key(3), "tablet", "a new password")
        .await
        .expect("new password");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_version_1_data_directory_is_migrated_with_the_password_and_refused_without() {
    let dir = tempfile::tempdir().expect("dir");
    // What HumanSync 0.1 left: a database with an argon2id PHC string and no OPAQUE record.
    {
        let db = Db::open(&dir.path().join(DB_FILE)).await.expect("db");
        db.set_setting(
            "password_hash",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        )
        .await
        .expect("legacy hash");
        assert!(matches!(
            PasswordStore::load_or_set(&db, None).await,
            Err(PasswordError::LegacyNeedsPassword)
        ));
        db.close().await;
    }
    let mut config = server_config(dir.path());
    config.password = None;
    match humansync_server::start(config.clone(), Overrides::default()).await {
        Err(ServerError::Password(PasswordError::LegacyNeedsPassword)) => {}
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("started without a usable password"),
    }
    let text = PasswordError::LegacyNeedsPassword.to_string();
    assert!(text.contains("--password-file"), "{text}");
    config.password = Some(PASSWORD.into());
    let server = humansync_server::start(config, Overrides::default())
        .await
        .expect("migrated");
    pair(&client(), &url(&server, ""), &key(1), "laptop", PASSWORD)
        .await
        .expect("paired");
    server.shutdown().await.expect("shutdown");
    let db = Db::open(&dir.path().join(DB_FILE)).await.expect("db");
    assert_eq!(
        db.setting("password_hash").await.expect("setting"),
        None,
        "the old hash is gone"
    );
    let (_, setup) = PasswordStore::load_or_set(&db, Some(PASSWORD))
        .await
        .expect("kept");
    assert_eq!(setup, PasswordSetup::Kept);
    db.close().await;
}
