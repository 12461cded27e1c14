//! Device keys in the OS keychain (issue 21, HS-REST-2), against a real Secret Service
//! (gnome-keyring on a private D-Bus session bus, keyring_support): a device started where a
//! keychain is reachable keeps its identity key and data key there — no key file, no key byte
//! anywhere under its storage — restarts and reads its documents; moving the keys to the files
//! and back keeps them readable; a locked or absent keychain is a typed error that changes
//! nothing, and without one a device uses the 0600 files.
//!
//! Each `child_*` test runs in a child process with the test bus in its environment; the parent
//! tests start the bus and keyring.

mod keyring_support;
mod node_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use humansync::keys::keychain::Keychain;
use humansync::keys::{DeviceSecret, KEYCHAIN_REF_FILE, KeyError};
use humansync::{Error, KeyPlace, KeySource, KeychainError};
use keyring_support::{Lock, SecretService, available, child_dir, run_child};

const DOC: &str = "notes/keychain";
const TITLE: &str = "Keys kept in the keychain";

async fn start_with(dir: &Path, source: KeySource) -> Result<humansync::Node, Error> {
    let mut config = node_support::config(dir);
    config.data_key = source;
    humansync::init(config).await
}

/// The error a start that must fail returns.
async fn start_err(dir: &Path, source: KeySource, why: &str) -> Error {
    match start_with(dir, source).await {
        Ok(node) => {
            let _ = node.shutdown().await;
            panic!("the node started: {why}")
        }
        Err(e) => e,
    }
}

async fn write_note(node: &humansync::Node) {
    let doc = node.open_doc(DOC).await.expect("doc");
    doc.put("title", TITLE).await.expect("put");
}

async fn title_of(node: &humansync::Node) -> Option<String> {
    node.open_doc(DOC)
        .await
        .ok()?
        .get::<String>("title")
        .await
        .ok()
        .flatten()
}

/// Starts the node with the default key source, checks its id and note, stops it.
async fn restart_and_read(dir: &Path, id: humansync::DeviceId, what: &str) {
    let node = start_with(dir, KeySource::Device).await.expect("node restarts");
    assert_eq!(node.id(), id, "{what}: the identity key changed");
    assert_eq!(
        title_of(&node).await.as_deref(),
        Some(TITLE),
        "{what}: note unreadable"
    );
    node.shutdown().await.expect("shutdown");
}

/// The keychain entries `keychain.ref` names, by secret.
fn keychain_keys(dir: &Path) -> BTreeMap<&'static str, [u8; 32]> {
    let text = std::fs::read_to_string(dir.join(KEYCHAIN_REF_FILE)).expect("keychain.ref");
    let id = text
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("id "))
        .expect("id line");
    let keychain = Keychain::connect().expect("keychain");
    let mut keys = BTreeMap::new();
    for token in ["identity-key", "data-key", "data-key-next"] {
        if let Some(key) = keychain.get(&format!("{id}/{token}")).expect("keychain get") {
            keys.insert(token, *key);
        }
    }
    keys
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every file under `dir` holding one of `keys`, raw or as hex.
fn key_bytes_under(dir: &Path, keys: &BTreeMap<&'static str, [u8; 32]>) -> Vec<String> {
    let mut found = Vec::new();
    for path in files_under(dir) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        for (name, key) in keys {
            let hex = hex::encode(key);
            let hit = |needle: &[u8]| {
                bytes
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle))
            };
            if hit(key) || hit(hex.as_bytes()) {
                found.push(format!("{name} in {}", path.display()));
            }
        }
    }
    found
}

fn key_files(dir: &Path) -> Vec<&'static str> {
    DeviceSecret::ALL
        .into_iter()
        .map(DeviceSecret::file_name)
        .filter(|f| dir.join(f).exists())
        .collect()
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_default();
            (p, bytes)
        })
        .collect()
}

fn is_keychain(err: &Error, want: fn(&KeychainError) -> bool) -> bool {
    matches!(err, Error::Key(KeyError::Keychain(e)) if want(e))
}

// ---- parents -------------------------------------------------------------------------------

/// HS-REST-2: with an unlocked keychain a device keeps both keys there, survives restarts,
/// moves them to the files and back, and rotates its data key in the keychain.
#[test]
fn keys_live_in_an_unlocked_keychain() {
    if !available("keys_live_in_an_unlocked_keychain") {
        return;
    }
    let work = tempfile::tempdir().expect("dir");
    let service = SecretService::start(&work.path().join("home"), Lock::Unlocked, "run");
    run_child("child_keychain_cycle", Some(service.address()), work.path());
}

/// HS-REST-2: a locked keychain is a typed error: a device whose keys are there does not start
/// and nothing under its storage changes; an explicit keychain device is not created; a fresh
/// default device falls back to the 0600 files.
#[test]
fn a_locked_keychain_is_a_typed_error_and_changes_nothing() {
    if !available("a_locked_keychain_is_a_typed_error_and_changes_nothing") {
        return;
    }
    let work = tempfile::tempdir().expect("dir");
    let home = work.path().join("home");
    {
        let service = SecretService::start(&home, Lock::Unlocked, "run1");
        run_child("child_prepare_in_keychain", Some(service.address()), work.path());
    }
    let service = SecretService::start(&home, Lock::Locked, "run2");
    run_child("child_locked", Some(service.address()), work.path());
}

/// HS-REST-2: without any keychain (no session bus), a device uses the 0600 files; an explicit
/// keychain choice and a move to the keychain fail with `Unavailable` and change nothing.
#[test]
fn without_a_keychain_devices_use_files() {
    let work = tempfile::tempdir().expect("dir");
    run_child("child_absent", None, work.path());
}

// ---- children ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by keys_live_in_an_unlocked_keychain in a child process"]
async fn child_keychain_cycle() {
    let Some(work) = child_dir() else { return };
    let dir = work.join("device");
    let node = start_with(&dir, KeySource::Device).await.expect("node starts");
    let id = node.id();
    write_note(&node).await;
    node.shutdown().await.expect("shutdown");

    assert_eq!(key_files(&dir), Vec::<&str>::new(), "a key file was written");
    let keys = keychain_keys(&dir);
    assert_eq!(
        keys.keys().copied().collect::<Vec<_>>(),
        ["data-key", "identity-key"]
    );
    assert_eq!(
        key_bytes_under(&dir, &keys),
        Vec::<String>::new(),
        "key bytes on disk"
    );
    restart_and_read(&dir, id, "restart").await;

    // Keychain → files: the same keys, now in 0600 files; nothing left in the keychain.
    let ref_text = std::fs::read_to_string(dir.join(KEYCHAIN_REF_FILE)).expect("keychain.ref");
    let entry_id = ref_text
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("id "))
        .expect("id");
    let report = humansync::move_device_keys(&dir, KeyPlace::Files).expect("move to files");
    assert_eq!(report.moved, [DeviceSecret::Identity, DeviceSecret::DataKey]);
    assert_eq!(key_files(&dir), ["identity.key", "data.key"]);
    assert!(!dir.join(KEYCHAIN_REF_FILE).exists(), "keychain.ref left behind");
    assert_eq!(
        std::fs::read(dir.join("data.key")).expect("data.key"),
        keys["data-key"]
    );
    let keychain = Keychain::connect().expect("keychain");
    for token in ["identity-key", "data-key"] {
        let left = keychain
            .get(&format!("{entry_id}/{token}"))
            .expect("keychain get");
        assert!(left.is_none(), "{token} left in the keychain");
    }
    restart_and_read(&dir, id, "after moving to files").await;
    // An explicit keychain choice does not silently take keys kept in files.
    let err = start_err(&dir, KeySource::Keychain, "keys are in files").await;
    assert!(
        matches!(
            err,
            Error::Key(KeyError::Elsewhere {
                found: KeyPlace::Files,
                ..
            })
        ),
        "{err}"
    );

    // Files → keychain: the files go only once the keychain copies read back.
    let report = humansync::move_device_keys(&dir, KeyPlace::Keychain).expect("move to keychain");
    assert_eq!(report.moved, [DeviceSecret::Identity, DeviceSecret::DataKey]);
    assert_eq!(key_files(&dir), Vec::<&str>::new());
    let again = keychain_keys(&dir);
    assert_eq!(
        again.values().collect::<Vec<_>>(),
        keys.values().collect::<Vec<_>>()
    );
    assert_eq!(
        key_bytes_under(&dir, &again),
        Vec::<String>::new(),
        "key bytes on disk"
    );
    restart_and_read(&dir, id, "after moving back").await;
    let node = start_with(&dir, KeySource::Keychain)
        .await
        .expect("explicit keychain");
    node.shutdown().await.expect("shutdown");

    // Rotation keeps the new key in the keychain too.
    humansync::rotate_device_key(&dir).expect("rotate");
    let rotated = keychain_keys(&dir);
    assert_eq!(
        rotated.keys().copied().collect::<Vec<_>>(),
        ["data-key", "identity-key"]
    );
    assert_ne!(
        rotated["data-key"], keys["data-key"],
        "the data key did not change"
    );
    assert_eq!(key_files(&dir), Vec::<&str>::new());
    restart_and_read(&dir, id, "after rotating").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by a_locked_keychain_is_a_typed_error_and_changes_nothing in a child process"]
async fn child_prepare_in_keychain() {
    let Some(work) = child_dir() else { return };
    let node = start_with(&work.join("device"), KeySource::Device)
        .await
        .expect("node starts");
    write_note(&node).await;
    node.shutdown().await.expect("shutdown");
    assert_eq!(key_files(&work.join("device")), Vec::<&str>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by a_locked_keychain_is_a_typed_error_and_changes_nothing in a child process"]
async fn child_locked() {
    let Some(work) = child_dir() else { return };
    let locked = |e: &KeychainError| matches!(e, KeychainError::Locked(_));

    let dir = work.join("device");
    let before = snapshot(&dir);
    let err = start_err(&dir, KeySource::Device, "the keychain is locked").await;
    assert!(is_keychain(&err, locked), "{err:?}");
    assert_eq!(snapshot(&dir), before, "a failed start changed the storage");
    let err = humansync::move_device_keys(&dir, KeyPlace::Files).expect_err("locked");
    assert!(is_keychain(&err, locked), "{err:?}");
    assert_eq!(snapshot(&dir), before, "a failed move changed the storage");

    let explicit = work.join("explicit");
    let err = start_err(&explicit, KeySource::Keychain, "locked").await;
    assert!(is_keychain(&err, locked), "{err:?}");
    assert_eq!(key_files(&explicit), Vec::<&str>::new());
    assert!(!explicit.join(KEYCHAIN_REF_FILE).exists());

    let fresh = work.join("fresh");
    let node = start_with(&fresh, KeySource::Device)
        .await
        .expect("falls back to files");
    node.shutdown().await.expect("shutdown");
    assert_eq!(key_files(&fresh), ["identity.key", "data.key"]);
    assert!(!fresh.join(KEYCHAIN_REF_FILE).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by without_a_keychain_devices_use_files in a child process"]
async fn child_absent() {
    let Some(work) = child_dir() else { return };
    let unavailable = |e: &KeychainError| matches!(e, KeychainError::Unavailable(_));

    let explicit = work.join("explicit");
    let err = start_err(&explicit, KeySource::Keychain, "no keychain").await;
    assert!(is_keychain(&err, unavailable), "{err:?}");
    assert_eq!(key_files(&explicit), Vec::<&str>::new());

    let dir = work.join("device");
    let node = start_with(&dir, KeySource::Device).await.expect("files");
    let id = node.id();
    write_note(&node).await;
    node.shutdown().await.expect("shutdown");
    assert_eq!(key_files(&dir), ["identity.key", "data.key"]);
    let before = snapshot(&dir);
    let err = humansync::move_device_keys(&dir, KeyPlace::Keychain).expect_err("no keychain");
    assert!(is_keychain(&err, unavailable), "{err:?}");
    assert_eq!(snapshot(&dir), before, "a failed move changed the storage");
    restart_and_read(&dir, id, "after the failed move").await;
}
