//! `Node::devices` over real iroh connections on loopback: every device of the registry with its
//! role, name, state and last-seen time, kept across a restart, and revocations shown.

mod node_support;

use std::time::SystemTime;

use humansync::{DeviceInfo, DeviceRole};
use node_support::*;

fn find(devices: &[DeviceInfo], id: humansync::DeviceId) -> DeviceInfo {
    devices
        .iter()
        .find(|d| d.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} missing from {devices:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_list_roles_state_last_seen_across_a_restart_and_revocation() {
    let (da, _db, mut anchor, a, b) = paired_pair(31).await;
    let b_id = b.id();
    eventually(10, "A and B connected", || async {
        a.devices()
            .await
            .map(|d| find(&d, b.id()).online)
            .unwrap_or(false)
    })
    .await;

    let devices = a.devices().await.expect("devices");
    assert_eq!(devices.len(), 3, "this device, the server, B: {devices:?}");
    assert_eq!(devices[0].id, a.id(), "this device comes first");
    assert_eq!(devices[0].role, DeviceRole::ThisDevice);
    assert_eq!(devices[0].last_seen, None);
    assert_eq!(devices[1].role, DeviceRole::Server);
    assert_eq!(devices[1].id, anchor.id());
    assert_eq!(devices[1].name, "server");
    assert!(!devices[1].online, "the test anchor is no node: never online");
    assert_eq!(devices[1].last_seen, None, "never seen");
    let seen_b = find(&devices, b.id());
    assert_eq!(seen_b.role, DeviceRole::Device);
    assert_eq!(seen_b.name, "test", "the name from B's Device record");
    assert!(seen_b.last_seen.is_some(), "online: seen now");
    assert_eq!(seen_b.revoked_at, None);

    // B goes away: A shows it offline, last seen when its session closed.
    b.shutdown().await.expect("shutdown b");
    eventually(10, "A sees B offline", || async {
        a.devices().await.map(|d| !find(&d, b_id).online).unwrap_or(false)
    })
    .await;
    let offline = find(&a.devices().await.expect("devices"), b_id);
    let last_seen = offline.last_seen.expect("B was seen");
    assert!(last_seen <= SystemTime::now());
    assert!(!offline.up_to_date);

    // A restarts: B's last-seen time comes back from the store, unchanged.
    a.shutdown().await.expect("shutdown a");
    let a = start(da.path()).await;
    let after = find(&a.devices().await.expect("devices"), b_id);
    assert!(!after.online);
    assert_eq!(after.last_seen, Some(last_seen), "kept across a restart");

    // B is revoked: it stays in the list, marked revoked.
    anchor.revoke(b_id);
    a.apply_pairing(anchor.pairing()).await.expect("registry update");
    let revoked = find(&a.devices().await.expect("devices"), b_id);
    assert!(revoked.revoked_at.is_some(), "{revoked:?}");
    assert_eq!(revoked.last_seen, Some(last_seen));
    a.shutdown().await.expect("shutdown a");
}
