//! The invariants: continuous ones (a deleted document never comes back where it was seen gone)
//! and those of a heal: every fault undone, then convergence measured, then every acknowledged
//! write checked on every registered device, deletions checked absent, attachments held, and
//! nothing crossing a revocation.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use humansync_linkem::LinkProfile;
use serde_json::{Value, json};

use crate::model::{Ack, Model, markers_in};
use crate::schedule::{CLOCK_DEVICE, REVOKED_DEVICE};
use crate::snapshot::{self, Snapshot};
use crate::world::{DevState, Shared};

/// A device listed its documents: a document whose deletion was acknowledged, that this device
/// had held and then listed as gone, must not be back. (A device that never held it may see it
/// for a while — from a peer that has not learned of the deletion yet, e.g. a server restored
/// from an older volume — until the deletion reaches it.)
pub async fn observe_list(world: &Shared, device: &str, ids: &[String]) {
    let mut w = world.lock().await;
    let deleted: Vec<String> = w
        .model
        .docs
        .keys()
        .filter(|id| w.model.doc_deleted(id))
        .cloned()
        .collect();
    let mut back = Vec::new();
    let disk_full = device == crate::schedule::DISK_DEVICE && w.disk_full_since.is_some();
    if let Some(d) = w.devices.get_mut(device) {
        for id in deleted {
            if ids.contains(&id) {
                if d.seen_gone.contains(&id) {
                    back.push(id);
                }
            } else if d.seen_present.contains(&id) && d.seen_gone.insert(id.clone()) && disk_full {
                d.gone_unstored.insert(id);
            }
        }
        d.seen_present.extend(ids.iter().cloned());
    }
    for id in back {
        w.journal
            .violation(format!("{device}: document {id} came back after its deletion"));
    }
}

/// A device showed a document (nothing to check beyond the list yet; kept as the hook for
/// per-document continuous checks).
pub async fn observe_doc(_world: &Shared, _device: &str, _doc: &str, _view: &Value) {}

/// Undoes every fault, waits for convergence, checks the invariants, resumes the workload.
pub async fn heal(world: &Shared, cycle: u32) {
    pause(world).await;
    undo_faults(world).await;
    let start = Instant::now();
    let bound = world.lock().await.cfg.converge_bound;
    let converged = converge(world, start, bound).await;
    if let Some(snaps) = converged.as_ref() {
        blobs(world, start, bound.max(Duration::from_secs(180))).await;
        check_model(world, snaps, cycle).await;
        witness(world, cycle).await;
    } else if let Some(snaps) = collect(world).await {
        // Not converged: still check what must hold regardless, on the last state.
        check_model(world, &snaps, cycle).await;
    }
    let mut w = world.lock().await;
    if converged.is_some() {
        // Converged with the disk freed: every deletion shown is stored by now.
        for d in w.devices.values_mut() {
            d.gone_unstored.clear();
        }
    }
    w.paused = false;
    w.journal.record("heal_end", json!({ "cycle": cycle }));
}

async fn pause(world: &Shared) {
    world.lock().await.paused = true;
    for _ in 0..1_200 {
        if !world.lock().await.devices.values().any(|d| d.busy) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn undo_faults(world: &Shared) {
    {
        let mut w = world.lock().await;
        let nodes: Vec<(String, &'static str)> =
            w.base_profiles.iter().map(|(n, p)| (n.clone(), *p)).collect();
        for (node, profile) in nodes {
            let _ = w.lab.set_up(&node, true);
            if let Some(p) = LinkProfile::named(profile) {
                let _ = tokio::task::block_in_place(|| w.lab.set_profile(&node, p));
            }
        }
        if let Some(file) = w.devices.get(CLOCK_DEVICE).and_then(|d| d.clock_file.clone()) {
            let _ = std::fs::write(file, "+0s");
        }
        w.armed_blob_kill = None;
        w.journal.record("heal_start", json!({}));
    }
    crate::faults::apply(world, &crate::schedule::Fault::DiskFree).await;
    let names: Vec<String> = world.lock().await.devices.keys().cloned().collect();
    crate::faults::start(world, crate::schedule::SERVER).await;
    for name in names {
        crate::faults::start(world, &name).await;
    }
}

/// Snapshots of every running device that is registered or revoked, by name.
async fn collect(world: &Shared) -> Option<BTreeMap<String, Snapshot>> {
    let targets: Vec<(String, std::path::PathBuf)> = {
        let w = world.lock().await;
        w.devices
            .iter()
            .filter(|(_, d)| matches!(d.state, DevState::Registered(_) | DevState::Revoked(_)))
            .map(|(n, d)| (n.clone(), d.data.clone()))
            .collect()
    };
    let mut out = BTreeMap::new();
    for (name, data) in targets {
        out.insert(name, snapshot::take(&data).await?);
    }
    Some(out)
}

/// Polls until every registered device holds the same documents and reports every peer up to
/// date; records the time. A device that claims everything up to date while documents differ
/// in two polls in a row is a violation.
async fn converge(world: &Shared, start: Instant, bound: Duration) -> Option<BTreeMap<String, Snapshot>> {
    let mut suspicious = 0;
    let mut last_diff = String::new();
    while start.elapsed() < bound {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let registered = world.lock().await.registered();
        let Some(snaps) = collect(world).await else {
            continue;
        };
        let regs: Vec<(&String, &Snapshot)> = snaps.iter().filter(|(n, _)| registered.contains(n)).collect();
        let Some((first_name, first)) = regs.first().copied() else {
            return Some(snaps);
        };
        let differing = regs.iter().find(|(_, s)| s.docs != first.docs);
        let all_up = regs.iter().all(|(_, s)| s.all_up_to_date());
        match (differing, all_up) {
            (None, true) => {
                let ms = start.elapsed().as_millis() as u64;
                let mut w = world.lock().await;
                w.journal.convergence_ms.push(ms);
                w.journal.record(
                    "converged",
                    json!({ "ms": ms, "docs": first.docs.len(), "devices": registered }),
                );
                return Some(snaps);
            }
            (Some((name, s)), true) => {
                suspicious += 1;
                last_diff = snapshot::diff(first_name, first, name, s);
                if suspicious >= 3 {
                    world.lock().await.journal.violation(format!(
                        "every device reports every peer up to date while documents differ: {last_diff}"
                    ));
                    suspicious = -1000;
                }
            }
            (Some((name, s)), false) => {
                suspicious = suspicious.min(0);
                last_diff = snapshot::diff(first_name, first, name, s);
            }
            (None, false) => {
                suspicious = suspicious.min(0);
                last_diff.clear();
            }
        }
    }
    let snaps = collect(world).await;
    let class = match &snaps {
        Some(s) if last_diff.is_empty() && half_open(s) => "zombie_session",
        _ => "invariant",
    };
    let statuses = snaps.map(|s| {
        s.iter()
            .map(|(n, s)| (n.clone(), s.status.clone()))
            .collect::<BTreeMap<_, _>>()
    });
    world.lock().await.journal.violation_of(
        class,
        format!(
            "no convergence within {bound:?} after the heal; last difference: {last_diff}; statuses: {}",
            serde_json::to_string(&statuses).unwrap_or_default()
        ),
    );
    None
}

/// Documents are identical, but a device keeps a session the peer does not have (it lists the
/// peer, not up to date, and the peer does not list it back).
fn half_open(snaps: &BTreeMap<String, Snapshot>) -> bool {
    let peers = |s: &Snapshot| -> Vec<(String, bool)> {
        s.status["peers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["id"].as_str()?.to_owned(), p["up_to_date"].as_bool()?)))
            .collect()
    };
    let ids: BTreeMap<String, &Snapshot> = snaps
        .values()
        .filter_map(|s| Some((s.status["id"].as_str()?.to_owned(), s)))
        .collect();
    snaps.values().any(|a| {
        let me = a.status["id"].as_str().unwrap_or_default();
        peers(a).iter().any(|(peer, up)| {
            !up && ids
                .get(peer)
                .is_some_and(|b| !peers(b).iter().any(|(id, _)| id == me))
        })
    })
}

/// Waits until no registered device misses an attachment's bytes. After the bound, each
/// attachment a registered device still lacks is looked up on every registered device: one that
/// some registered device holds (or that a device still trusted attached, which keeps it) is a
/// violation; one that no registered device holds and that a revoked device attached is not —
/// its bytes may have left with that device, like its other writes (`Model::untrusted`).
async fn blobs(world: &Shared, start: Instant, bound: Duration) {
    let mut missing = BTreeMap::new();
    let mut last = None;
    while start.elapsed() < bound {
        let registered = world.lock().await.registered();
        if let Some(snaps) = collect(world).await {
            missing = snaps
                .iter()
                .filter(|(n, s)| registered.contains(n) && s.missing_blobs() > 0)
                .map(|(n, s)| (n.clone(), s.missing_blobs()))
                .collect();
            if missing.is_empty() {
                world
                    .lock()
                    .await
                    .journal
                    .blob_convergence_ms
                    .push(start.elapsed().as_millis() as u64);
                return;
            }
            last = Some(snaps);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let lacking = match last {
        Some(snaps) => lacking_attachments(world, &snaps).await,
        None => Vec::new(),
    };
    let (excused, real): (Vec<_>, Vec<_>) = lacking.into_iter().partition(|l| l.excused);
    let mut w = world.lock().await;
    for l in &excused {
        w.journal
            .record("blob_left_with_revoked", json!({ "attachment": l.describe() }));
    }
    if excused.is_empty() || !real.is_empty() {
        let detail: Vec<String> = real.iter().map(Lacking::describe).collect();
        w.journal.violation(format!(
            "attachments' bytes still missing {bound:?} after the heal: {missing:?}; {}",
            detail.join("; ")
        ));
    }
}

/// An attachment some registered device lacks after the heal.
struct Lacking {
    hash: String,
    /// Devices that lack it and devices that hold it (registered ones).
    lacking: Vec<String>,
    holders: Vec<String>,
    /// Who attached it (the model), if known.
    attached_by: Option<String>,
    /// No registered device holds it and a revoked device attached it.
    excused: bool,
}

impl Lacking {
    fn describe(&self) -> String {
        format!(
            "{} (attached by {}): lacking on {:?}, held by {:?}",
            &self.hash[..self.hash.len().min(12)],
            self.attached_by.as_deref().unwrap_or("?"),
            self.lacking,
            self.holders
        )
    }
}

/// Asks every registered device, for every attachment its documents list, whether it holds the
/// bytes (`attachment-ready`, which also starts a fetch), and groups the answers by hash.
async fn lacking_attachments(world: &Shared, snaps: &BTreeMap<String, Snapshot>) -> Vec<Lacking> {
    let (registered, datas, untrusted, by_hash) = {
        let w = world.lock().await;
        let datas: BTreeMap<String, std::path::PathBuf> = w
            .devices
            .iter()
            .map(|(n, d)| (n.clone(), d.data.clone()))
            .collect();
        let by_hash: BTreeMap<String, String> = w
            .model
            .attachments
            .values()
            .map(|a| (a.hash.clone(), a.device.clone()))
            .collect();
        (w.registered(), datas, w.model.untrusted.clone(), by_hash)
    };
    let mut held: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for name in &registered {
        let (Some(snap), Some(data)) = (snaps.get(name), datas.get(name)) else {
            continue;
        };
        for (doc, state) in &snap.docs {
            for (attachment, hash) in &state.attachments {
                let request = json!({"cmd": "attachment-ready", "id": doc, "name": attachment});
                let ready = matches!(
                    crate::client::request(data, &request, Duration::from_secs(30)).await,
                    crate::client::Outcome::Ok(v) if v["ready"].as_bool() == Some(true)
                );
                let entry = held.entry(hash.clone()).or_default();
                if ready { &mut entry.1 } else { &mut entry.0 }.push(name.clone());
            }
        }
    }
    held.into_iter()
        .filter(|(_, (lacking, _))| !lacking.is_empty())
        .map(|(hash, (mut lacking, mut holders))| {
            lacking.dedup();
            holders.dedup();
            let attached_by = by_hash.get(&hash).cloned();
            let excused = holders.is_empty() && attached_by.as_ref().is_some_and(|d| untrusted.contains(d));
            Lacking {
                hash,
                lacking,
                holders,
                attached_by,
                excused,
            }
        })
        .collect()
}

/// Every acknowledged write on every registered device; deletions absent everywhere; nothing
/// across the revocation.
async fn check_model(world: &Shared, snaps: &BTreeMap<String, Snapshot>, cycle: u32) {
    let mut w = world.lock().await;
    let registered = w.registered();
    let mut problems = Vec::new();
    let mut checks = 0u64;
    for name in &registered {
        let Some(snap) = snaps.get(name) else { continue };
        problems.extend(check_device(&w.model, name, snap, &mut checks));
    }
    if let (Some(t), Some(revoked)) = (w.revocation_known_by_all, snaps.get(REVOKED_DEVICE)) {
        problems.extend(check_revocation(
            &w.model,
            t,
            revoked,
            snaps,
            &registered,
            &mut checks,
        ));
    }
    w.journal.acked_checks += checks;
    w.journal.record(
        "checked",
        json!({ "cycle": cycle, "checks": checks, "problems": problems.len() }),
    );
    problems.truncate(20);
    for p in problems {
        w.journal.violation(p);
    }
}

fn check_device(model: &Model, name: &str, snap: &Snapshot, checks: &mut u64) -> Vec<String> {
    let mut problems = Vec::new();
    let held: std::collections::BTreeSet<String> = snap
        .docs
        .values()
        .flat_map(|d| markers_in(&d.body).into_iter().map(|(_, m)| m))
        .collect();
    for (marker, m) in &model.markers {
        if model.marker_required(m) {
            *checks += 1;
            let in_doc = snap
                .docs
                .get(&m.doc)
                .is_some_and(|d| d.body.contains(marker.as_str()));
            if !in_doc {
                problems.push(format!(
                    "{name}: acknowledged write {marker} (by {}) is missing from {}{}",
                    m.device,
                    m.doc,
                    if snap.docs.contains_key(&m.doc) {
                        ""
                    } else {
                        " (document absent)"
                    }
                ));
            }
        } else if model.marker_forbidden(m) {
            *checks += 1;
            if held.contains(marker) {
                problems.push(format!("{name}: removed text {marker} is back"));
            }
        }
    }
    for id in model.docs.keys() {
        if model.doc_deleted(id) {
            *checks += 1;
            if snap.docs.contains_key(id) {
                problems.push(format!("{name}: deleted document {id} is back"));
            }
        }
    }
    for ((doc, att), a) in &model.attachments {
        if model.attachment_required(doc, a) {
            *checks += 1;
            let listed = snap.docs.get(doc).and_then(|d| d.attachments.get(att));
            if listed != Some(&a.hash) {
                problems.push(format!(
                    "{name}: acknowledged attachment {att} ({} bytes, by {}) of {doc} is {}",
                    a.size,
                    a.device,
                    if listed.is_some() {
                        "listed with another hash"
                    } else {
                        "missing"
                    }
                ));
            }
        }
    }
    problems
}

/// Nothing written elsewhere after every peer knew of the revocation is on the revoked device,
/// and nothing it wrote after that is on any registered device.
fn check_revocation(
    model: &Model,
    known_by_all: u64,
    revoked: &Snapshot,
    snaps: &BTreeMap<String, Snapshot>,
    registered: &[String],
    checks: &mut u64,
) -> Vec<String> {
    let mut problems = Vec::new();
    let after = |m: &crate::model::Marker| matches!(m.written, Ack::At(t) if t > known_by_all);
    for (marker, m) in &model.markers {
        if !after(m) {
            continue;
        }
        if m.device == REVOKED_DEVICE {
            for name in registered {
                *checks += 1;
                if snaps
                    .get(name)
                    .is_some_and(|s| s.docs.values().any(|d| d.body.contains(marker.as_str())))
                {
                    problems.push(format!(
                        "{name} holds {marker}, written by the revoked device after its revocation"
                    ));
                }
            }
        } else {
            *checks += 1;
            if revoked.docs.values().any(|d| d.body.contains(marker.as_str())) {
                problems.push(format!(
                    "the revoked device received {marker} (by {}), written after its revocation reached every peer",
                    m.device
                ));
            }
        }
    }
    problems
}

/// The heal's witness of "up to date only when it is" for the server: on each registered
/// device in turn, write, wait for the device to report the server up to date, cut the
/// device's link at once, and require the write to reach another registered device through
/// the server within the bound. A device that reports the server up to date while its write
/// is still in flight fails this.
pub async fn witness(world: &Shared, cycle: u32) {
    let regs: Vec<(String, std::path::PathBuf)> = {
        let w = world.lock().await;
        w.devices
            .iter()
            .filter(|(_, d)| d.registered())
            .map(|(n, d)| (n.clone(), d.data.clone()))
            .collect()
    };
    if regs.len() < 2 {
        return;
    }
    let timeout = Duration::from_secs(10);
    for (i, (a, data)) in regs.iter().enumerate() {
        let (b, b_data) = &regs[(i + 1) % regs.len()];
        let marker = format!("[{a}.w{cycle}]");
        let Some(list) = crate::client::request(data, &json!({"cmd": "list"}), timeout)
            .await
            .ok()
            .cloned()
        else {
            continue;
        };
        let doc = {
            let w = world.lock().await;
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["id"].as_str())
                .find(|id| !w.model.doc_maybe_deleted(id))
                .map(str::to_owned)
        };
        let Some(doc) = doc else { continue };
        let out = crate::client::request(
            data,
            &json!({"cmd": "append", "id": doc, "text": marker}),
            timeout,
        )
        .await;
        if out.ok().is_none() {
            continue;
        }
        {
            let mut w = world.lock().await;
            let now = w.journal.now_ms();
            w.model.markers.insert(
                marker.clone(),
                crate::model::Marker {
                    doc: doc.clone(),
                    device: a.clone(),
                    written: Ack::At(now),
                    deleted: None,
                    delete_pending: 0,
                    deleted_by: None,
                },
            );
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut claimed = false;
        while Instant::now() < deadline {
            if let Some(status) = crate::client::request(data, &json!({"cmd": "status"}), timeout)
                .await
                .ok()
                && status["peers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["role"] == "server" && p["up_to_date"] == true)
            {
                claimed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut w = world.lock().await;
        if !claimed {
            w.journal.violation(format!(
                "{a} never reported the server up to date after a write on a healed network"
            ));
            continue;
        }
        let _ = w.lab.set_up(a, false);
        w.journal
            .fault("isolate_after_up_to_date", json!({ "device": a }));
        drop(w);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut arrived = false;
        while Instant::now() < deadline {
            let shown = crate::client::request(b_data, &json!({"cmd": "show", "id": doc}), timeout).await;
            if shown
                .ok()
                .and_then(|v| v["body"].as_str())
                .is_some_and(|body| body.contains(&marker))
            {
                arrived = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut w = world.lock().await;
        let _ = w.lab.set_up(a, true);
        w.journal.claim_checks += 1;
        if !arrived {
            w.journal.violation_of("up_to_date_in_flight", format!(
                "{a} reported the server up to date after writing {marker}, was cut off at once, and the write never reached {b} within 30 s"
            ));
        }
    }
}
