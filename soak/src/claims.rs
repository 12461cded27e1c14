//! "Up to date only when it is", checked while the faults run: when device A reports device P
//! up to date, everything A had acknowledged before asking is on P (read P right away, unless
//! P restarted meanwhile: a crash may lose what was received but not yet durable). Only this
//! direction is a promise: A cannot know what P is still sending it. The server, whose content
//! the soak cannot read, is checked by the heal's witness (see `checks::witness`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::client::{self, Outcome};
use crate::world::Shared;

/// Markers sampled per claim.
const SAMPLE: usize = 8;

/// The claims seen so far.
#[derive(Debug, Default)]
pub struct Claims;

struct Target {
    name: String,
    data: PathBuf,
    epoch: u64,
}

impl Claims {
    /// Asks every registered device for its status and checks what it claims.
    pub async fn round(&self, world: &Shared) {
        let (devices, server_id) = {
            let w = world.lock().await;
            if w.paused {
                return;
            }
            let devices: Vec<(Target, Option<String>)> = w
                .devices
                .iter()
                .filter(|(_, d)| d.registered() && !d.down_expected)
                .map(|(n, d)| {
                    (
                        Target {
                            name: n.clone(),
                            data: d.data.clone(),
                            epoch: d.proc.epoch,
                        },
                        d.id.clone(),
                    )
                })
                .collect();
            (devices, w.server.id.clone())
        };
        let by_id: BTreeMap<String, &Target> = devices
            .iter()
            .filter_map(|(t, id)| Some((id.clone()?, t)))
            .collect();
        for (a, _) in &devices {
            let asked = world.lock().await.journal.now_ms();
            let Outcome::Ok(status) =
                client::request(&a.data, &json!({"cmd": "status"}), Duration::from_secs(5)).await
            else {
                continue;
            };
            for peer in status["peers"].as_array().cloned().unwrap_or_default() {
                if peer["up_to_date"].as_bool() != Some(true) {
                    continue;
                }
                let Some(pid) = peer["id"].as_str() else { continue };
                if Some(pid) == server_id.as_deref() {
                    continue;
                }
                if let Some(p) = by_id.get(pid) {
                    let mine = sample(world, &a.name, asked).await;
                    check_holds(
                        world,
                        p,
                        &mine,
                        &format!("{} reported {} up to date", a.name, p.name),
                    )
                    .await;
                }
            }
        }
    }
}

async fn sample(world: &Shared, device: &str, before: u64) -> Vec<(String, String)> {
    let w = world.lock().await;
    w.model
        .acked_by(device, before, SAMPLE)
        .into_iter()
        .map(|(marker, m)| (m.doc.clone(), marker.to_owned()))
        .collect()
}

/// Reads `target`'s documents holding `markers`; each marker still required must be there,
/// unless `target` restarted meanwhile.
async fn check_holds(world: &Shared, target: &Target, markers: &[(String, String)], claim: &str) {
    for (doc, marker) in markers {
        let out = client::request(
            &target.data,
            &json!({"cmd": "show", "id": doc}),
            Duration::from_secs(10),
        )
        .await;
        let mut w = world.lock().await;
        if w.epoch(&target.name) != target.epoch {
            return;
        }
        // Removed or deleted meanwhile, or a removal still in flight: nothing to require.
        let still_required = w
            .model
            .markers
            .get(marker)
            .is_some_and(|m| w.model.marker_required(m));
        if !still_required {
            continue;
        }
        w.journal.claim_checks += 1;
        let held = match &out {
            Outcome::Ok(v) => v["body"].as_str().is_some_and(|b| b.contains(marker.as_str())),
            Outcome::Err { code, .. } if code == "not_found" => false,
            _ => continue,
        };
        if !held {
            w.journal.violation_of(
                "up_to_date_in_flight",
                format!(
                    "{claim}, yet {} lacks {marker} of {doc} (acknowledged before the claim)",
                    target.name
                ),
            );
        }
    }
}
