//! Applying the schedule's faults to the running world.

use std::time::Duration;

use humansync_linkem::LinkProfile;
use rustix::process::Signal;
use serde_json::json;

use crate::client::{self, Outcome};
use crate::schedule::{self, CLOCK_DEVICE, DISK_DEVICE, Fault, SERVER};
use crate::world::{DevState, Shared};

/// How long a graceful stop may take before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Applies one fault.
pub async fn apply(world: &Shared, fault: &Fault) {
    let kind = schedule::kind(fault);
    let detail = serde_json::to_value(fault).unwrap_or_default();
    match fault {
        Fault::LinkProfile { node, profile, loss } => {
            let mut w = world.lock().await;
            let Some(p) = LinkProfile::named(profile) else {
                return;
            };
            let p = LinkProfile { loss: *loss, ..p };
            if let Err(e) = tokio::task::block_in_place(|| w.lab.set_profile(node, p)) {
                w.journal
                    .violation(format!("soak harness: cannot set {node}'s link: {e}"));
                return;
            }
            w.journal.fault(kind, detail);
        }
        Fault::LinkDown { node } | Fault::LinkUp { node } => {
            let mut w = world.lock().await;
            let up = matches!(fault, Fault::LinkUp { .. });
            if w.lab.set_up(node, up).is_ok() {
                w.journal.fault(kind, detail);
            }
        }
        Fault::Kill { target } => {
            if kill(world, target).await {
                world.lock().await.journal.fault(kind, detail);
            }
        }
        Fault::Start { target } => {
            if start(world, target).await {
                world.lock().await.journal.fault(kind, detail);
            }
        }
        Fault::Restart { target } => {
            if restart(world, target).await {
                world.lock().await.journal.fault(kind, detail);
            }
        }
        Fault::DiskFull => disk_full(world).await,
        Fault::DiskFree => disk_free(world).await,
        Fault::ClockJump { offset_s } => {
            let mut w = world.lock().await;
            let Some(file) = w.devices.get(CLOCK_DEVICE).and_then(|d| d.clock_file.clone()) else {
                return;
            };
            if w.devices
                .get(CLOCK_DEVICE)
                .is_some_and(|d| d.state == DevState::Absent)
            {
                return;
            }
            let text = if *offset_s >= 0 {
                format!("+{offset_s}s")
            } else {
                format!("{offset_s}s")
            };
            if std::fs::write(&file, text).is_ok() {
                w.journal.fault(kind, detail);
            }
        }
        Fault::ServerBackup => backup(world).await,
        Fault::ServerRestore => restore(world).await,
        Fault::Pair {
            device,
            kill_after_ms,
        } => pair(world, device, *kill_after_ms).await,
        Fault::Revoke {
            device,
            kill_server_after_ms,
        } => crate::revoke::revoke(world, device, *kill_server_after_ms).await,
        Fault::ArmBlobKill { target } => {
            let mut w = world.lock().await;
            w.armed_blob_kill = Some(target.clone());
            w.journal.record("armed", detail);
        }
    }
}

/// SIGKILLs a process; true when it was running.
pub async fn kill(world: &Shared, target: &str) -> bool {
    let mut w = world.lock().await;
    if target == SERVER {
        w.server.down_expected = true;
        tokio::task::block_in_place(|| w.server.proc.kill9())
    } else {
        let Some(d) = w.devices.get_mut(target) else {
            return false;
        };
        if d.state == DevState::Absent {
            return false;
        }
        d.down_expected = true;
        d.stopped();
        tokio::task::block_in_place(|| d.proc.kill9())
    }
}

/// Starts a process that is down (no-op when it runs, or for a device not started yet).
pub async fn start(world: &Shared, target: &str) -> bool {
    let mut w = world.lock().await;
    let started = if target == SERVER {
        w.server.down_expected = false;
        w.server.proc.start()
    } else {
        let Some(d) = w.devices.get_mut(target) else {
            return false;
        };
        if d.state == DevState::Absent {
            return false;
        }
        d.down_expected = false;
        d.proc.start()
    };
    match started {
        Ok(s) => s,
        Err(e) => {
            w.journal
                .violation(format!("soak harness: cannot start {target}: {e}"));
            false
        }
    }
}

/// SIGTERM (graceful: the process must exit 0 in time), then start again.
pub async fn restart(world: &Shared, target: &str) -> bool {
    let mut w = world.lock().await;
    let code = if target == SERVER {
        if !w.server.proc.running() {
            return false;
        }
        w.server.down_expected = true;
        tokio::task::block_in_place(|| w.server.proc.terminate(STOP_GRACE))
    } else {
        let Some(d) = w.devices.get_mut(target) else {
            return false;
        };
        if !d.proc.running() {
            return false;
        }
        d.down_expected = true;
        d.stopped();
        tokio::task::block_in_place(|| d.proc.terminate(STOP_GRACE))
    };
    if code != Some(0) {
        w.journal.violation(format!(
            "{target} did not stop cleanly on SIGTERM within {STOP_GRACE:?} (exit {code:?})"
        ));
    }
    drop(w);
    start(world, target).await;
    true
}

async fn disk_full(world: &Shared) {
    let mut w = world.lock().await;
    let Some(d) = w.devices.get(DISK_DEVICE) else {
        return;
    };
    if w.disk_full_since.is_some() {
        return;
    }
    let filler = d.data.join("soak-filler");
    let result = tokio::task::block_in_place(|| fill(&d.data, &filler));
    match result {
        Ok(bytes) => {
            let now = w.journal.now_ms();
            w.disk_full_since = Some(now);
            w.journal.fault("disk_full", json!({ "filler_bytes": bytes }));
        }
        Err(e) => w
            .journal
            .record("note", json!({ "disk_full_failed": e.to_string() })),
    }
}

/// Allocates every free byte of the file system holding `dir` in `filler`.
fn fill(dir: &std::path::Path, filler: &std::path::Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    let free = stat.f_bavail * stat.f_frsize;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(filler)?;
    let mut size = std::fs::metadata(filler)?.len() + free;
    // Allocate all of it; a block or two of slack can remain for the file's own metadata.
    while size > 0 {
        match rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size) {
            Ok(()) => return Ok(size),
            Err(_) => size = size.saturating_sub(64 * 1024),
        }
    }
    Ok(0)
}

async fn disk_free(world: &Shared) {
    let mut w = world.lock().await;
    if w.disk_full_since.is_none() {
        return;
    }
    if let Some(d) = w.devices.get(DISK_DEVICE) {
        let _ = std::fs::remove_file(d.data.join("soak-filler"));
    }
    w.disk_full_since = None;
    let now = w.journal.now_ms();
    w.disk_freed_at = Some(now);
    w.journal.fault("disk_free", json!({}));
    drop(w);
    // It may have refused to start while the disk was full.
    start(world, DISK_DEVICE).await;
}

async fn backup(world: &Shared) {
    let mut w = world.lock().await;
    let backup = w.cfg.work.join("server-backup");
    // Frozen, the volume on disk is what a crash at this instant would leave: a consistent copy.
    let frozen = w.server.proc.signal(Signal::STOP);
    let result = tokio::task::block_in_place(|| crate::procs::copy_tree(&w.server.data, &backup));
    if frozen {
        w.server.proc.signal(Signal::CONT);
    }
    match result {
        Ok(()) => {
            w.server.backup = Some(backup);
            w.journal.fault("server_backup", json!({ "frozen": frozen }));
        }
        Err(e) => w.journal.violation(format!("soak harness: backup failed: {e}")),
    }
}

async fn restore(world: &Shared) {
    let mut w = world.lock().await;
    let Some(backup) = w.server.backup.clone() else {
        return;
    };
    w.server.down_expected = true;
    let data = w.server.data.clone();
    let result = tokio::task::block_in_place(|| {
        w.server.proc.kill9();
        crate::procs::copy_tree(&backup, &data)
    });
    if let Err(e) = result {
        w.journal.violation(format!("soak harness: restore failed: {e}"));
        return;
    }
    w.server.down_expected = false;
    if let Err(e) = w.server.proc.start() {
        w.journal
            .violation(format!("soak harness: cannot start the server: {e}"));
    }
    w.journal.fault("server_restore", json!({}));
}

/// Starts a new device that pairs in the background; optionally kills it mid-pairing.
async fn pair(world: &Shared, device: &str, kill_after_ms: Option<u64>) {
    {
        let mut w = world.lock().await;
        let now = w.journal.now_ms();
        let Some(d) = w.devices.get_mut(device) else {
            return;
        };
        if d.state != DevState::Absent {
            return;
        }
        d.state = DevState::Unpaired;
        if let Err(e) = d.proc.start() {
            w.journal
                .violation(format!("soak harness: cannot start {device}: {e}"));
            return;
        }
        w.journal.fault("pair", json!({ "device": device, "at": now }));
    }
    if let Some(ms) = kill_after_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        if kill(world, device).await {
            world
                .lock()
                .await
                .journal
                .fault("kill9_mid_pairing", json!({ "device": device, "after_ms": ms }));
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        start(world, device).await;
    }
}

/// Asks a device for its id until it answers (bounded).
pub async fn device_id(world: &Shared, device: &str) -> Option<String> {
    let data = world.lock().await.devices.get(device)?.data.clone();
    for _ in 0..150 {
        if let Outcome::Ok(v) = client::request(&data, &json!({"cmd": "id"}), Duration::from_secs(5)).await
            && let Some(id) = v["id"].as_str()
        {
            return Some(id.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}
