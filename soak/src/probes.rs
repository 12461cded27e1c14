//! What runs beside the workload: log tailing (panics, revocations learned, quarantines),
//! exits nobody asked for, memory, registrations, and the up-to-date claims check.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::client::{self, Outcome};
use crate::schedule::{REVOKED_DEVICE, SERVER};
use crate::world::{DevState, Shared};

/// Runs every probe until the run stops.
pub async fn run(world: Shared) {
    let mut offsets: BTreeMap<PathBuf, u64> = BTreeMap::new();
    let mut tick: u64 = 0;
    let claims = crate::claims::Claims;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        tick += 1;
        if world.lock().await.stopping {
            return;
        }
        tail_logs(&world, &mut offsets).await;
        exits(&world).await;
        if tick.is_multiple_of(4) {
            memory(&world).await;
            registrations(&world).await;
        }
        if tick % 6 == 3 {
            claims.round(&world).await;
        }
    }
}

async fn tail_logs(world: &Shared, offsets: &mut BTreeMap<PathBuf, u64>) {
    let (logs, revoked_id) = {
        let w = world.lock().await;
        let mut logs: Vec<(String, PathBuf)> = vec![(SERVER.to_owned(), w.server.proc.log.clone())];
        logs.extend(w.devices.iter().map(|(n, d)| (n.clone(), d.proc.log.clone())));
        let revoked = w
            .revoked_at
            .and_then(|_| w.devices.get(REVOKED_DEVICE).and_then(|d| d.id.clone()));
        (logs, revoked)
    };
    for (name, path) in logs {
        let offset = offsets.entry(path.clone()).or_insert(0);
        let Ok(mut file) = std::fs::File::open(&path) else {
            continue;
        };
        if file.seek(SeekFrom::Start(*offset)).is_err() {
            continue;
        }
        let mut text = String::new();
        let Ok(n) = file.take(16 << 20).read_to_string(&mut text) else {
            continue;
        };
        // Only whole lines; the rest is read next time.
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        *offset += whole.min(n) as u64;
        let mut w = world.lock().await;
        for line in text[..whole].lines() {
            if line.contains("panicked at") {
                w.journal.violation(format!("{name} panicked: {line}"));
            }
            if line.contains("\"doc-corrupt\"") {
                w.journal.quarantines += 1;
                w.journal
                    .record("quarantine", json!({ "process": name, "line": line }));
            }
            if let Some(id) = &revoked_id
                && line.contains("device-revoked")
                && line.contains(id.as_str())
                && name != REVOKED_DEVICE
            {
                let now = w.journal.now_ms();
                if let Some(d) = w.devices.get_mut(&name)
                    && d.knows_revocation.is_none()
                {
                    d.knows_revocation = Some(now);
                    w.journal.record("revocation_learned", json!({ "device": name }));
                }
            }
        }
        update_known_by_all(&mut w);
    }
}

/// The revocation reached every registered device (the server acknowledged it itself).
fn update_known_by_all(w: &mut crate::world::World) {
    if w.revocation_known_by_all.is_some() || w.revoked_at.is_none() {
        return;
    }
    let devices: Vec<&crate::world::Device> = w.devices.values().filter(|d| d.registered()).collect();
    let Some(last) = devices
        .iter()
        .map(|d| {
            d.knows_revocation.or(match d.state {
                // A device registered after the revocation got it with its pairing answer.
                DevState::Registered(at) if Some(at) > w.revoked_at => Some(at),
                _ => None,
            })
        })
        .try_fold(0u64, |acc, t| t.map(|t| acc.max(t)))
    else {
        return;
    };
    w.revocation_known_by_all = Some(last);
    w.journal
        .record("revocation_known_by_all", json!({ "at_ms": last }));
}

async fn exits(world: &Shared) {
    let mut w = world.lock().await;
    let mut exited = Vec::new();
    if let Some(status) = w.server.proc.exited() {
        exited.push((SERVER.to_owned(), status, w.server.down_expected));
    }
    for (name, d) in w.devices.iter_mut() {
        if let Some(status) = d.proc.exited() {
            exited.push((name.clone(), status, d.down_expected));
        }
    }
    for (name, status, expected) in exited {
        if name == crate::schedule::DISK_DEVICE && w.disk_full_since.is_some() {
            // Refusing to start on a full disk, with the reason in its log, is allowed; it is
            // started again once space returns.
            w.journal.record(
                "note",
                json!({ "exit_on_full_disk": name, "status": status.to_string() }),
            );
            if let Some(d) = w.devices.get_mut(&name) {
                d.down_expected = true;
                d.stopped();
            }
            continue;
        }
        if !expected {
            w.journal.violation(format!("{name} exited by itself: {status}"));
            // Keep the run going: start it again.
            let started = if name == SERVER {
                w.server.proc.start()
            } else {
                w.devices.get_mut(&name).map_or(Ok(false), |d| d.proc.start())
            };
            if let Err(e) = started {
                w.journal
                    .violation(format!("soak harness: cannot restart {name}: {e}"));
            }
        }
    }
}

async fn memory(world: &Shared) {
    let mut w = world.lock().await;
    let limit = w.cfg.memory_limit;
    let mut over = Vec::new();
    let before = w.server.proc.max_rss;
    if let Some(rss) = w.server.proc.sample_rss()
        && rss > limit
        && before <= limit
    {
        over.push((SERVER.to_owned(), rss));
    }
    for (name, d) in w.devices.iter_mut() {
        let before = d.proc.max_rss;
        if let Some(rss) = d.proc.sample_rss()
            && rss > limit
            && before <= limit
        {
            over.push((name.clone(), rss));
        }
    }
    for (name, rss) in over {
        w.journal.violation(format!(
            "{name} uses {} MiB, over the bound of {} MiB",
            rss >> 20,
            limit >> 20
        ));
    }
}

/// Devices that paired since the last look become registered.
async fn registrations(world: &Shared) {
    let pending: Vec<(String, PathBuf)> = {
        let w = world.lock().await;
        w.devices
            .iter()
            .filter(|(_, d)| d.state == DevState::Unpaired && !d.down_expected)
            .map(|(n, d)| (n.clone(), d.data.clone()))
            .collect()
    };
    for (name, data) in pending {
        if let Outcome::Ok(status) =
            client::request(&data, &json!({"cmd": "status"}), Duration::from_secs(5)).await
            && status["paired"].as_bool() == Some(true)
        {
            let mut w = world.lock().await;
            let now = w.journal.now_ms();
            if let Some(d) = w.devices.get_mut(&name)
                && d.state == DevState::Unpaired
            {
                d.state = DevState::Registered(now);
                d.id = status["id"].as_str().map(str::to_owned).or(d.id.take());
                w.journal.record("registered", json!({ "device": name }));
            }
        }
    }
}
