//! The seeded workload: on every started device, one request at a time — documents created,
//! edited concurrently (markers appended and prepended, removed), retitled, deleted;
//! attachments from 1 KB up to the configured maximum added and removed — each outcome recorded
//! in the model. Positions are only ever 0 or the end (the app appends inside its transaction),
//! except for removals, whose result is checked: a removal that hit other text (an edit arrived
//! between reading the body and removing) taints the document for the marker checks.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{self, Outcome};
use crate::model::{Ack, Attachment, DocModel, Marker, markers_in};
use crate::rng::Rng;
use crate::world::{DevState, Shared};

/// Requests to an app time out after this (attaching tens of MB on a busy machine included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Live documents a device keeps at most (it deletes rather than creates beyond).
const MAX_DOCS: usize = 40;
/// Attachments above this size count against the budget.
const SMALL_ATTACHMENT: u64 = 64 * 1024;

/// Runs device `name`'s workload until the run stops.
pub async fn run(world: Shared, name: String, seed: u64, stream: u64) {
    let mut rng = Rng::new(seed, stream);
    let mut n: u64 = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(rng.range(250, 1_200))).await;
        let data = {
            let mut w = world.lock().await;
            if w.stopping {
                return;
            }
            let paused = w.paused;
            let Some(d) = w.devices.get_mut(&name) else { return };
            if paused || d.state == DevState::Absent || d.down_expected {
                continue;
            }
            d.busy = true;
            d.data.clone()
        };
        n += 1;
        step(&world, &name, &data, &mut rng, n).await;
        if let Some(d) = world.lock().await.devices.get_mut(&name) {
            d.busy = false;
        }
    }
}

async fn ask(data: &std::path::Path, request: Value) -> Outcome {
    match client::request(data, &request, REQUEST_TIMEOUT).await {
        // A storage failure (a full disk too) answers an error, yet the change may be applied
        // in memory and sent to peers (the library says so): its outcome is unknown, not "not
        // done".
        Outcome::Err { code, message }
            if code == "sync" && (message.contains("storage") || message.contains("disk full")) =>
        {
            Outcome::Unknown(format!("answered {code}: {message}"))
        }
        other => other,
    }
}

/// Records an outcome under `op` in the journal; disk-full errors are checked for clarity.
async fn note(world: &Shared, name: &str, op: &str, outcome: &Outcome) {
    let mut w = world.lock().await;
    let key = match outcome {
        Outcome::Ok(_) => format!("{op} ok"),
        Outcome::Err { code, .. } => format!("{op} err {code}"),
        Outcome::Unknown(why) if why.starts_with("answered") => format!("{op} err storage"),
        Outcome::Unknown(_) => format!("{op} unknown"),
    };
    w.journal.op(key);
    let on_full_disk = name == crate::schedule::DISK_DEVICE && w.disk_full_since.is_some();
    match outcome {
        Outcome::Err { code, message } if on_full_disk => {
            let clear = ["no space", "os error 28", "disk full", "storage full"]
                .iter()
                .any(|s| message.to_lowercase().contains(s));
            w.journal.record(
                "disk_full_error",
                json!({ "op": op, "code": code, "message": message, "clear": clear }),
            );
            if !clear && code != "not_found" && code != "no_attachment" {
                w.journal.violation(format!(
                    "{name}: {op} on a full disk failed without saying so: {code}: {message}"
                ));
            }
        }
        Outcome::Unknown(why) if on_full_disk && why.starts_with("answered") => {
            let why_lower = why.to_lowercase();
            let clear = ["no space", "os error 28", "disk full"]
                .iter()
                .any(|s| why_lower.contains(s));
            w.journal.record(
                "disk_full_error",
                json!({ "op": op, "message": why, "clear": clear }),
            );
            if !clear {
                w.journal.violation(format!(
                    "{name}: {op} on a full disk failed without saying so: {why}"
                ));
            }
        }
        Outcome::Unknown(why) if on_full_disk && !why.starts_with("connect") => {
            w.journal
                .violation(format!("{name}: {op} on a full disk got no answer: {why}"));
        }
        _ => {}
    }
}

async fn step(world: &Shared, name: &str, data: &std::path::Path, rng: &mut Rng, n: u64) {
    let list = ask(data, json!({"cmd": "list"})).await;
    let Some(docs) = list.ok().and_then(|v| v.as_array().cloned()) else {
        note(world, name, "list", &list).await;
        return;
    };
    let ids: Vec<String> = docs
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect();
    crate::checks::observe_list(world, name, &ids).await;
    let marker = format!("[{name}.{n}]");
    let choice = if ids.is_empty() {
        0
    } else {
        rng.weighted(&[12, 30, 14, 6, 5, 4, 6, 3, 20])
    };
    let doc = if ids.is_empty() {
        String::new()
    } else {
        rng.pick(&ids).clone()
    };
    match choice {
        0 if ids.len() < MAX_DOCS => create(world, name, data, &marker).await,
        0 | 5 => delete_doc(world, name, data, &doc).await,
        1 | 2 => {
            let cmd = if choice == 1 {
                json!({"cmd": "append", "id": doc, "text": marker})
            } else {
                json!({"cmd": "insert", "id": doc, "pos": 0, "text": marker})
            };
            write_marker(world, name, data, &doc, &marker, cmd).await;
        }
        3 => remove_marker(world, name, data, &doc, rng).await,
        4 => {
            let out = ask(
                data,
                json!({"cmd": "set-title", "id": doc, "title": format!("title {name} {n}")}),
            )
            .await;
            note(world, name, "set-title", &out).await;
        }
        6 => attach(world, name, data, &doc, rng, n).await,
        7 => detach(world, name, data, &doc, rng).await,
        _ => {
            let out = ask(data, json!({"cmd": "show", "id": doc})).await;
            if let Some(v) = out.ok() {
                crate::checks::observe_doc(world, name, &doc, v).await;
            }
        }
    }
}

async fn create(world: &Shared, name: &str, data: &std::path::Path, marker: &str) {
    let out = ask(
        data,
        json!({"cmd": "create", "title": format!("doc {marker}"), "body": marker}),
    )
    .await;
    note(world, name, "create", &out).await;
    let mut w = world.lock().await;
    let now = w.journal.now_ms();
    if let Some(id) = out.ok().and_then(|v| v["id"].as_str()) {
        w.model.docs.insert(
            id.to_owned(),
            DocModel {
                created_by: name.to_owned(),
                created: Ack::At(now),
                deleted: None,
                delete_pending: 0,
                deleted_by: None,
            },
        );
        w.model.markers.insert(
            marker.to_owned(),
            Marker {
                doc: id.to_owned(),
                device: name.to_owned(),
                written: Ack::At(now),
                deleted: None,
                delete_pending: 0,
                deleted_by: None,
            },
        );
    }
}

async fn write_marker(
    world: &Shared,
    name: &str,
    data: &std::path::Path,
    doc: &str,
    marker: &str,
    cmd: Value,
) {
    let op = cmd["cmd"].as_str().unwrap_or("write").to_owned();
    let out = ask(data, cmd).await;
    note(world, name, &op, &out).await;
    let mut w = world.lock().await;
    let now = w.journal.now_ms();
    let written = match &out {
        Outcome::Ok(_) => Ack::At(now),
        Outcome::Unknown(_) => Ack::Unknown,
        Outcome::Err { .. } => return,
    };
    w.model.markers.insert(
        marker.to_owned(),
        Marker {
            doc: doc.to_owned(),
            device: name.to_owned(),
            written,
            deleted: None,
            delete_pending: 0,
            deleted_by: None,
        },
    );
}

async fn delete_doc(world: &Shared, name: &str, data: &std::path::Path, doc: &str) {
    if let Some(d) = world.lock().await.model.docs.get_mut(doc) {
        d.delete_pending += 1;
    }
    let out = ask(data, json!({"cmd": "delete", "id": doc})).await;
    note(world, name, "delete", &out).await;
    let mut w = world.lock().await;
    let now = w.journal.now_ms();
    let entry = w.model.docs.entry(doc.to_owned()).or_insert_with(|| DocModel {
        created_by: "?".into(),
        created: Ack::Unknown,
        deleted: None,
        delete_pending: 1,
        deleted_by: None,
    });
    entry.delete_pending = entry.delete_pending.saturating_sub(1);
    match out {
        Outcome::Ok(_) => {
            entry.deleted = Some(Ack::At(now));
            entry.deleted_by = Some(name.to_owned());
        }
        Outcome::Unknown(_) if entry.deleted.is_none() => {
            entry.deleted = Some(Ack::Unknown);
            entry.deleted_by = Some(name.to_owned());
        }
        _ => {}
    }
}

async fn remove_marker(world: &Shared, name: &str, data: &std::path::Path, doc: &str, rng: &mut Rng) {
    let shown = ask(data, json!({"cmd": "show", "id": doc})).await;
    let Some(body) = shown.ok().and_then(|v| v["body"].as_str().map(str::to_owned)) else {
        return;
    };
    let found = markers_in(&body);
    if found.is_empty() {
        return;
    }
    let (pos, target) = rng.pick(&found).clone();
    if let Some(m) = world.lock().await.model.markers.get_mut(&target) {
        m.delete_pending += 1;
    }
    let len = target.chars().count();
    let out = ask(
        data,
        json!({"cmd": "delete-text", "id": doc, "pos": pos, "len": len}),
    )
    .await;
    note(world, name, "delete-text", &out).await;
    let mut w = world.lock().await;
    let now = w.journal.now_ms();
    // A removal that hit other text leaves the target or a fragment behind: the body no longer
    // follows the marker discipline, so its markers are not checked.
    let after = out.ok().and_then(|v| v["body"].as_str().map(str::to_owned));
    let tainted = after.as_ref().is_some_and(|b| {
        b.contains(&target)
            || b.matches('[').count() != markers_in(b).len()
            || b.matches(']').count() != markers_in(b).len()
    });
    if tainted {
        w.journal.record(
            "note",
            json!({ "tainted_doc": doc, "by": "concurrent edit during a removal" }),
        );
        for m in w.model.markers.values_mut().filter(|m| m.doc == doc) {
            m.deleted.get_or_insert(Ack::Unknown);
        }
    }
    let Some(m) = w.model.markers.get_mut(&target) else {
        return;
    };
    m.delete_pending = m.delete_pending.saturating_sub(1);
    m.deleted_by.get_or_insert_with(|| name.to_owned());
    match out {
        Outcome::Ok(_) if !tainted => m.deleted = Some(Ack::At(now)),
        Outcome::Ok(_) | Outcome::Unknown(_) => {
            m.deleted.get_or_insert(Ack::Unknown);
        }
        Outcome::Err { .. } => {}
    }
}

async fn attach(world: &Shared, name: &str, data: &std::path::Path, doc: &str, rng: &mut Rng, n: u64) {
    let (dir, max) = {
        let w = world.lock().await;
        let left = w.cfg.attachment_budget.saturating_sub(w.attachment_bytes);
        (
            w.cfg.work.join("files"),
            w.cfg.max_attachment.min(left).max(SMALL_ATTACHMENT),
        )
    };
    let size = rng.log_uniform(1_000, max);
    let file = dir.join(format!("{name}-{n}.bin"));
    let mut content_rng = rng.clone();
    let written = tokio::task::spawn_blocking({
        let file = file.clone();
        move || -> std::io::Result<()> {
            std::fs::create_dir_all(file.parent().unwrap_or(std::path::Path::new(".")))?;
            let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let take = left.min(buf.len() as u64) as usize;
                content_rng.fill(&mut buf[..take]);
                std::io::Write::write_all(&mut out, &buf[..take])?;
                left -= take as u64;
            }
            std::io::Write::flush(&mut out)
        }
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let attachment = format!("a-{name}-{n}");
    let out = ask(
        data,
        json!({"cmd": "attach", "id": doc, "path": file, "name": attachment}),
    )
    .await;
    note(world, name, "attach", &out).await;
    let mut w = world.lock().await;
    let now = w.journal.now_ms();
    if size > SMALL_ATTACHMENT {
        w.attachment_bytes += size;
    }
    let added = match &out {
        Outcome::Ok(_) => Ack::At(now),
        Outcome::Unknown(_) => Ack::Unknown,
        Outcome::Err { .. } => return,
    };
    let hash = out.ok().and_then(|v| v["hash"].as_str()).unwrap_or("").to_owned();
    w.model.attachments.insert(
        (doc.to_owned(), attachment.clone()),
        Attachment {
            hash,
            size,
            device: name.to_owned(),
            added,
            detached: None,
            detach_pending: 0,
        },
    );
    if size >= 1 << 20
        && matches!(added, Ack::At(_))
        && let Some(target) = w.armed_blob_kill.take()
    {
        let delay = rng.range(100, 3_000);
        w.journal.record(
            "blob_kill",
            json!({ "target": target, "size": size, "after_ms": delay }),
        );
        let world = world.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if crate::faults::kill(&world, &target).await {
                world
                    .lock()
                    .await
                    .journal
                    .fault("kill9_mid_blob", json!({ "target": target, "size": size }));
            }
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            crate::faults::start(&world, &target).await;
        });
    }
}

async fn detach(world: &Shared, name: &str, data: &std::path::Path, doc: &str, rng: &mut Rng) {
    let shown = ask(data, json!({"cmd": "show", "id": doc})).await;
    let Some(names) = shown.ok().and_then(|v| v["attachments"].as_array().cloned()) else {
        return;
    };
    let names: Vec<String> = names
        .iter()
        .filter_map(|a| a["name"].as_str().map(str::to_owned))
        .collect();
    if names.is_empty() {
        return;
    }
    let target = rng.pick(&names).clone();
    let key = (doc.to_owned(), target.clone());
    if let Some(a) = world.lock().await.model.attachments.get_mut(&key) {
        a.detach_pending += 1;
    }
    let out = ask(data, json!({"cmd": "detach", "id": doc, "name": target})).await;
    note(world, name, "detach", &out).await;
    let mut w = world.lock().await;
    let now = w.journal.now_ms();
    let Some(a) = w.model.attachments.get_mut(&key) else {
        return;
    };
    a.detach_pending = a.detach_pending.saturating_sub(1);
    match out {
        Outcome::Ok(_) => a.detached = Some(Ack::At(now)),
        Outcome::Unknown(_) => {
            a.detached.get_or_insert(Ack::Unknown);
        }
        Outcome::Err { .. } => {}
    }
}
