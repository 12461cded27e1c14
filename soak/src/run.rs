//! One run: set the lab and the processes up, run the schedule with the workload and probes,
//! heal after each cycle, check the stores at the end, report, tear everything down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use humansync_linkem::{Lab, LinkProfile, NodeSpec};
use serde_json::json;
use tokio::sync::Mutex;

use crate::journal::{Journal, p50_max};
use crate::procs::{LIBFAKETIME, Proc};
use crate::schedule::{CHAOS_MS, CLOCK_DEVICE, DEVICES, DISK_DEVICE, INITIAL_DEVICES, SERVER, Schedule};
use crate::world::{DevState, Device, PASSWORD, Server, Shared, SoakConfig, World};

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// Every invariant held.
    Passed,
    /// At least one violation (printed, and in the journal).
    Failed,
    /// The run could not be set up.
    Error(String),
}

/// Base link profile of each node: what a heal restores.
const BASE: &[(&str, &str)] = &[
    (SERVER, "lan"),
    ("d1", "broadband"),
    ("d2", "lte"),
    ("d3", "broadband"),
    ("d4", "lte"),
];

/// Runs the soak described by `cfg`.
pub fn run(cfg: SoakConfig) -> RunOutcome {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return RunOutcome::Error(e.to_string()),
    };
    let tmpfs = cfg.work.join(DISK_DEVICE);
    let result = runtime.block_on(async {
        // Listening before the setup: an interrupt during it is kept and cleans up after it.
        let mut stop = match humansync::StopSignal::listen() {
            Ok(s) => s,
            Err(e) => return RunOutcome::Error(format!("installing the signal handlers: {e}")),
        };
        let world = match setup(cfg).await {
            Ok(w) => w,
            Err(e) => return RunOutcome::Error(e),
        };
        let outcome = tokio::select! {
            o = chaos(world.clone()) => o,
            _ = stop.recv() => {
                eprintln!("soak: interrupted; cleaning up");
                RunOutcome::Error("interrupted".into())
            }
        };
        teardown(&world).await;
        outcome
    });
    let _ = std::process::Command::new("umount")
        .arg("-l")
        .arg(&tmpfs)
        .status();
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn setup(cfg: SoakConfig) -> Result<Shared, String> {
    for bin in [&cfg.humandocs, &cfg.server_bin] {
        if !bin.is_file() {
            return Err(format!(
                "no binary at {} (build first: scripts/soak.sh does)",
                bin.display()
            ));
        }
    }
    std::fs::create_dir_all(cfg.work.join("files")).map_err(|e| e.to_string())?;
    let schedule = Schedule::generate(cfg.seed, cfg.cycles).without(&cfg.skip);
    std::fs::write(
        cfg.work.join("schedule.json"),
        serde_json::to_vec_pretty(&schedule).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let specs: Vec<NodeSpec> = BASE
        .iter()
        .map(|(n, p)| NodeSpec {
            name: (*n).to_owned(),
            profile: LinkProfile::named(p).unwrap_or(LinkProfile::LAN),
        })
        .collect();
    let lab =
        tokio::task::block_in_place(|| Lab::start(&cfg.lab, cfg.seed, &specs)).map_err(|e| e.to_string())?;
    // The disk-full device's data on a small file system of its own.
    let disk = cfg.work.join(DISK_DEVICE);
    std::fs::create_dir_all(&disk).map_err(|e| e.to_string())?;
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={}m", cfg.disk_mib), "tmpfs"])
        .arg(&disk)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("cannot mount a tmpfs at {}", disk.display()));
    }
    let server_ip = lab.addr(SERVER).map_err(|e| e.to_string())?;
    let server_data = cfg.work.join("server");
    let server = Server {
        proc: Proc::new(
            SERVER,
            lab.namespace(SERVER).map_err(|e| e.to_string())?,
            vec![
                s(&cfg.server_bin),
                "--data-dir".into(),
                s(&server_data),
                "--password".into(),
                PASSWORD.into(),
                "--http-addr".into(),
                "0.0.0.0:8080".into(),
                "--iroh-port".into(),
                "4433".into(),
                "--relay".into(),
                "disabled".into(),
            ],
            cfg.work.join("server.log"),
        ),
        data: server_data,
        backup: None,
        ip: server_ip,
        id: None,
        down_expected: false,
    };
    let url = server.url();
    let mut devices = BTreeMap::new();
    for name in DEVICES {
        let data = cfg.work.join(name);
        let mut proc = Proc::new(
            name,
            lab.namespace(name).map_err(|e| e.to_string())?,
            vec![
                s(&cfg.humandocs),
                "--data".into(),
                s(&data),
                "run".into(),
                "--relay".into(),
                "disabled".into(),
                "--no-mdns".into(),
                "--interval".into(),
                "2".into(),
                "--server".into(),
                url.clone(),
                "--password".into(),
                PASSWORD.into(),
            ],
            cfg.work.join(format!("{name}.log")),
        );
        let clock_file = (*name == CLOCK_DEVICE).then(|| cfg.work.join("clock-offset"));
        if let Some(file) = &clock_file {
            std::fs::write(file, "+0s").map_err(|e| e.to_string())?;
            proc.env = vec![
                ("LD_PRELOAD".into(), LIBFAKETIME.into()),
                ("FAKETIME_TIMESTAMP_FILE".into(), s(file)),
                ("FAKETIME_CACHE_DURATION".into(), "1".into()),
                ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
            ];
        }
        devices.insert(
            (*name).to_owned(),
            Device {
                proc,
                data,
                id: None,
                state: DevState::Absent,
                knows_revocation: None,
                clock_file,
                down_expected: false,
                seen_gone: Default::default(),
                gone_unstored: Default::default(),
                seen_present: Default::default(),
                busy: false,
            },
        );
    }
    let journal = Journal::new(Some(&cfg.work.join("soak.jsonl"))).map_err(|e| e.to_string())?;
    let world: Shared = Arc::new(Mutex::new(World {
        cfg,
        lab,
        server,
        devices,
        model: Default::default(),
        journal,
        paused: false,
        stopping: false,
        disk_full_since: None,
        disk_freed_at: None,
        armed_blob_kill: None,
        revoked_at: None,
        revocation_known_by_all: None,
        attachment_bytes: 0,
        base_profiles: BASE.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect(),
    }));
    start_server(&world).await?;
    for name in INITIAL_DEVICES {
        let mut w = world.lock().await;
        let d = w.devices.get_mut(*name).ok_or("no device")?;
        d.state = DevState::Unpaired;
        d.proc.start().map_err(|e| format!("cannot start {name}: {e}"))?;
    }
    for name in INITIAL_DEVICES {
        let id = crate::faults::device_id(&world, name)
            .await
            .ok_or(format!("{name} did not start"))?;
        world.lock().await.devices.get_mut(*name).ok_or("no device")?.id = Some(id);
    }
    Ok(world)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

async fn start_server(world: &Shared) -> Result<(), String> {
    let (ns, addr) = {
        let mut w = world.lock().await;
        w.server
            .proc
            .start()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        (format!("{}-hub", w.lab.name()), w.server.http())
    };
    for _ in 0..300 {
        let ns = ns.clone();
        let answer = tokio::task::spawn_blocking(move || {
            crate::client::http(&ns, addr, "GET", "/health", Duration::from_secs(2))
        })
        .await
        .map_err(|e| e.to_string())?;
        if let Ok(a) = answer
            && a.status == 200
        {
            let id = serde_json::from_str::<serde_json::Value>(&a.body)
                .ok()
                .and_then(|v| v["node_id"].as_str().map(str::to_owned));
            world.lock().await.server.id = id;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("the server did not answer /health within 60 s".into())
}

/// The schedule in chaos time, a heal after each cycle, then the final checks.
async fn chaos(world: Shared) -> RunOutcome {
    let (seed, cycles, skip) = {
        let w = world.lock().await;
        (w.cfg.seed, w.cfg.cycles, w.cfg.skip.clone())
    };
    let schedule = Schedule::generate(seed, cycles).without(&skip);
    for (i, name) in DEVICES.iter().enumerate() {
        tokio::spawn(crate::workload::run(
            world.clone(),
            (*name).to_owned(),
            seed,
            100 + i as u64,
        ));
    }
    tokio::spawn(crate::probes::run(world.clone()));
    let mut entries = schedule.entries.iter().peekable();
    let mut chaos_elapsed = 0u64;
    for cycle in 0..cycles {
        let cycle_end = u64::from(cycle + 1) * CHAOS_MS;
        let started = Instant::now();
        let base = chaos_elapsed;
        while let Some(entry) = entries.next_if(|e| e.at_ms < cycle_end) {
            let due = Duration::from_millis(entry.at_ms.saturating_sub(base));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            let world = world.clone();
            let fault = entry.fault.clone();
            // Faults that wait (pairing, revocation) run beside the schedule.
            tokio::spawn(async move { crate::faults::apply(&world, &fault).await });
        }
        if let Some(wait) = Duration::from_millis(cycle_end - base).checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        chaos_elapsed = cycle_end;
        spawn_id_lookups(&world).await;
        println!("soak: cycle {cycle} done; healing");
        crate::checks::heal(&world, cycle).await;
        let w = world.lock().await;
        println!(
            "soak: cycle {cycle} healed at {:.0} s: {} violations so far, convergence {:?} ms",
            w.journal.now_ms() as f64 / 1000.0,
            w.journal.violations.len(),
            w.journal.convergence_ms.last()
        );
    }
    final_checks(&world).await;
    report(&world, &schedule).await
}

/// Learns the ids of devices started by the schedule.
async fn spawn_id_lookups(world: &Shared) {
    let missing: Vec<String> = {
        let w = world.lock().await;
        w.devices
            .iter()
            .filter(|(_, d)| d.id.is_none() && d.state != DevState::Absent)
            .map(|(n, _)| n.clone())
            .collect()
    };
    for name in missing {
        if let Some(id) = crate::faults::device_id(world, &name).await
            && let Some(d) = world.lock().await.devices.get_mut(&name)
        {
            d.id = Some(id);
        }
    }
}

/// Stops every process gracefully and checks every store.
async fn final_checks(world: &Shared) {
    let mut w = world.lock().await;
    w.stopping = true;
    let mut stores: Vec<(String, PathBuf)> = vec![(SERVER.into(), w.server.data.join("node").join("store"))];
    let code = tokio::task::block_in_place(|| w.server.proc.terminate(Duration::from_secs(20)));
    if code != Some(0) {
        w.journal
            .violation(format!("server did not stop cleanly at the end (exit {code:?})"));
    }
    let names: Vec<String> = w.devices.keys().cloned().collect();
    for name in names {
        let Some(d) = w.devices.get_mut(&name) else {
            continue;
        };
        if d.state == DevState::Absent {
            continue;
        }
        let code = tokio::task::block_in_place(|| d.proc.terminate(Duration::from_secs(20)));
        stores.push((name.clone(), d.data.join("store")));
        if code != Some(0) && d.proc.epoch > 0 {
            w.journal
                .violation(format!("{name} did not stop cleanly at the end (exit {code:?})"));
        }
    }
    for (name, dir) in stores {
        match tokio::task::block_in_place(|| crate::storecheck::check(&dir)) {
            Ok(c) => w.journal.record(
                "store_checked",
                json!({ "process": name, "docs": c.docs, "quarantined": c.quarantined }),
            ),
            Err(e) => w.journal.violation(format!("{name}'s store: {e}")),
        }
    }
}

async fn report(world: &Shared, schedule: &Schedule) -> RunOutcome {
    let w = world.lock().await;
    let j = &w.journal;
    let mut memory: Vec<String> = vec![format!("server {} MiB", w.server.proc.max_rss >> 20)];
    memory.extend(
        w.devices
            .iter()
            .map(|(n, d)| format!("{n} {} MiB", d.proc.max_rss >> 20)),
    );
    let summary = json!({
        "seed": w.cfg.seed,
        "cycles": w.cfg.cycles,
        "minutes": j.now_ms() as f64 / 60_000.0,
        "faults": j.faults,
        "ops": j.ops,
        "acked_write_checks": j.acked_checks,
        "claim_checks": j.claim_checks,
        "quarantines": j.quarantines,
        "convergence_ms": j.convergence_ms,
        "convergence_p50_max_ms": p50_max(&j.convergence_ms),
        "blob_convergence_ms": j.blob_convergence_ms,
        "max_rss": memory,
        "violations": j.violations.len(),
        "known_violations": j.known.iter().map(|(_, c, _)| c.clone()).collect::<Vec<_>>(),
        "scheduled": schedule.counts(),
    });
    println!(
        "soak: summary {}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    let _ = std::fs::write(w.cfg.work.join("summary.json"), summary.to_string());
    if j.violations.is_empty() {
        println!("soak: PASSED (seed {})", w.cfg.seed);
        RunOutcome::Passed
    } else {
        for (t, v) in &j.violations {
            eprintln!("soak: violation at {:.1} s: {v}", *t as f64 / 1000.0);
        }
        RunOutcome::Failed
    }
}

async fn teardown(world: &Shared) {
    let mut w = world.lock().await;
    w.stopping = true;
    w.server.proc.kill9();
    for d in w.devices.values_mut() {
        d.proc.kill9();
    }
    // The lab is dropped with the world; drop its namespaces now in case a task still holds it.
    let lab = std::mem::replace(&mut w.lab, placeholder());
    drop(w);
    tokio::task::block_in_place(|| drop(lab));
}

/// Teardown swaps the real lab out for nothing: an already-dropped marker.
fn placeholder() -> Lab {
    Lab::detached()
}
