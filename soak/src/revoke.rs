//! Revoking a device mid-run through the server's API, optionally killing the server while the
//! request is in flight.

use std::time::Duration;

use serde_json::json;

use crate::client;
use crate::faults::{admin, kill, start};
use crate::schedule::SERVER;
use crate::world::{DevState, Shared};

/// How long the revocation may take to be acknowledged, retries included.
const REVOKE_BOUND: Duration = Duration::from_secs(120);

/// `DELETE /devices/{id}` from the hub namespace, retried until acknowledged.
pub async fn revoke(world: &Shared, device: &str, kill_server_after_ms: Option<u64>) {
    let (ns, addr, id) = {
        let w = world.lock().await;
        let Some(d) = w.devices.get(device) else { return };
        let Some(id) = d.id.clone() else {
            drop(w);
            world
                .lock()
                .await
                .journal
                .record("note", json!({ "revoke_skipped": device, "why": "id unknown" }));
            return;
        };
        (format!("{}-hub", w.lab.name()), w.server.http(), id)
    };
    if let Some(ms) = kill_server_after_ms {
        let world = world.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if kill(&world, SERVER).await {
                world
                    .lock()
                    .await
                    .journal
                    .fault("kill9_during_revocation", json!({ "after_ms": ms }));
            }
            tokio::time::sleep(Duration::from_millis(1500)).await;
            start(&world, SERVER).await;
        });
    }
    let deadline = tokio::time::Instant::now() + REVOKE_BOUND;
    let mut unanswered = false;
    let path = format!("/devices/{id}");
    while tokio::time::Instant::now() < deadline {
        let (ns, path) = (ns.clone(), path.clone());
        let answer = tokio::task::spawn_blocking(move || {
            client::http(&ns, addr, "DELETE", &path, Some(&admin()), Duration::from_secs(8))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let mut w = world.lock().await;
        match answer {
            Ok(a) if a.status == 200 || (a.status == 404 && unanswered) => {
                let now = w.journal.now_ms();
                w.revoked_at = Some(now);
                w.model.untrusted.insert(device.to_owned());
                if let Some(d) = w.devices.get_mut(device) {
                    d.state = DevState::Revoked(now);
                }
                w.journal.fault(
                    "revoke",
                    json!({ "device": device, "id": id, "status": a.status, "body": a.body }),
                );
                return;
            }
            Ok(a) if a.status == 429 || a.status >= 500 => {
                w.journal.record("note", json!({ "revoke_retry": a.status }));
            }
            Ok(a) => {
                w.journal.violation(format!(
                    "revoking {device}: unexpected answer {} {}",
                    a.status, a.body
                ));
                return;
            }
            Err(e) => {
                unanswered = true;
                w.journal.record("note", json!({ "revoke_retry": e }));
            }
        }
        drop(w);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    world.lock().await.journal.violation(format!(
        "revoking {device}: not acknowledged within {REVOKE_BOUND:?}"
    ));
}
