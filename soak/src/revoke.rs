//! Revoking a device mid-run the way the owner does it: from another registered device's app
//! (`revoke`, an OPAQUE login with the server password through the library, HTTP API version 2),
//! optionally killing the server while the login is in flight.

use std::time::Duration;

use serde_json::json;

use crate::client;
use crate::client::Outcome;
use crate::faults::{kill, start};
use crate::schedule::SERVER;
use crate::world::{DevState, PASSWORD, Shared};

/// How long the revocation may take to be acknowledged, retries included.
const REVOKE_BOUND: Duration = Duration::from_secs(120);

/// Asks a registered device other than `device` to revoke it, retried until acknowledged.
pub async fn revoke(world: &Shared, device: &str, kill_server_after_ms: Option<u64>) {
    let id = {
        let w = world.lock().await;
        let Some(id) = w.devices.get(device).and_then(|d| d.id.clone()) else {
            drop(w);
            world
                .lock()
                .await
                .journal
                .record("note", json!({ "revoke_skipped": device, "why": "id unknown" }));
            return;
        };
        id
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
    let request = json!({ "cmd": "revoke", "device": id, "password": PASSWORD });
    while tokio::time::Instant::now() < deadline {
        // The owner's other device: registered, running and not mid-fault.
        let by = {
            let w = world.lock().await;
            w.devices
                .iter()
                .find(|(name, d)| *name != device && d.registered() && !d.down_expected && !d.busy)
                .map(|(name, d)| (name.clone(), d.data.clone()))
        };
        let Some((by, data)) = by else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let answer = client::request(&data, &request, Duration::from_secs(30)).await;
        let mut w = world.lock().await;
        match answer {
            Outcome::Ok(result) => {
                let now = w.journal.now_ms();
                w.revoked_at = Some(now);
                w.model.untrusted.insert(device.to_owned());
                if let Some(d) = w.devices.get_mut(device) {
                    d.state = DevState::Revoked(now);
                }
                w.journal.fault(
                    "revoke",
                    json!({ "device": device, "id": id, "by": by, "result": result }),
                );
                return;
            }
            // The server down or slow, the guard's limits, the app restarting: try again.
            Outcome::Err { code, message }
                if matches!(
                    code.as_str(),
                    "unavailable" | "sync" | "io" | "pairing_failed" | "rate_limited"
                ) =>
            {
                w.journal.record(
                    "note",
                    json!({ "revoke_retry": code, "by": by, "message": message }),
                );
            }
            Outcome::Err { code, message } => {
                w.journal
                    .violation(format!("revoking {device} from {by}: {code}: {message}"));
                return;
            }
            Outcome::Unknown(e) => {
                w.journal.record("note", json!({ "revoke_retry": e, "by": by }));
            }
        }
        drop(w);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    world.lock().await.journal.violation(format!(
        "revoking {device}: not acknowledged within {REVOKE_BOUND:?}"
    ));
}
