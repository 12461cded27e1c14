//! kill -9 of a whole node during heavy writes through the app API: every `put` that returned is
//! still there after restart, and every listed document opens (HS-SYNC-8).
//!
//! The test binary re-invokes itself as the app (`node_kill9_child`): it starts a real node
//! (iroh endpoint, driver, disk worker), runs several concurrent writers through `Doc::put`, and
//! prints `ACK doc key value` after each `put` returns. The parent SIGKILLs it at a seeded random
//! moment, restarts a node on the same storage and checks. `NODE_KILL9_ITERATIONS` (default 50) and
//! `NODE_KILL9_SEED` override the defaults. The store-level test (`kill9.rs`) aims at torn log
//! writes; this one covers everything above the store: the driver's acknowledgement ordering,
//! the identity file and the startup path.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

#[path = "kill9_support/mod.rs"]
mod kill9_support;
#[path = "node_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use kill9_support::{Writer, below};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

const CHILD_ENV: &str = "HUMANSYNC_NODE_KILL9_CHILD";
const DOCS: u64 = 24;
const WRITERS: u64 = 6;

/// The app. Runs only when re-invoked by [`node_kill9`] with `CHILD_ENV` set to `<dir>|<seed>`.
#[test]
fn node_kill9_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, seed) = spec.split_once('|').unwrap();
    let dir = std::path::PathBuf::from(dir);
    let seed: u64 = seed.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let node = support::start(&dir).await;
        // libtest has printed "test node_kill9_child ... " without a newline: end that line first.
        let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
        out.lock().unwrap().write_all(b"\nREADY\n").unwrap();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let node = node.clone();
            let out = out.clone();
            tasks.push(tokio::spawn(async move {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (w << 40));
                for n in 0.. {
                    let doc = node
                        .open_doc(&format!("k9/doc-{}", below(&mut rng, DOCS)))
                        .await
                        .unwrap();
                    let key = format!("s{seed}-w{w}-{n}");
                    // Now and then a big value: the disk worker batches work of very different sizes.
                    let len = if below(&mut rng, 10) == 0 { 32_768 } else { 64 };
                    let value = format!("{n}:{}", "v".repeat(below(&mut rng, len) as usize));
                    doc.put(&key, value.as_str()).await.unwrap();
                    // Acknowledged only now: `put` returned, so the write is durable.
                    let line = format!("ACK {} {key} {n}\n", doc.id());
                    let mut out = out.lock().unwrap();
                    out.write_all(line.as_bytes()).unwrap();
                    out.flush().unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[test]
fn node_kill9() {
    let iterations: u64 = std::env::var("NODE_KILL9_ITERATIONS").map_or(50, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("NODE_KILL9_SEED").map_or(0x4e4f_4445_4b39, |v| v.parse().unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut acked: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut identity = None;
    let (mut total_acks, mut kills) = (0u64, 0u64);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for it in 0..iterations {
        let child_seed = rng.next_u64() >> 1;
        // Sometimes kill during startup (before any write), mostly in the middle of the writes.
        let kill_after = if below(&mut rng, 8) == 0 {
            0
        } else {
            1 + below(&mut rng, 300)
        };
        let delay = Duration::from_micros(below(&mut rng, 20_000));
        let mut writer = Writer::spawn(
            "node_kill9_child",
            CHILD_ENV,
            format!("{}|{child_seed}", dir.path().display()),
        );
        let mut record = |line: &str, acked: &mut BTreeMap<String, BTreeMap<String, String>>| {
            let parts: Vec<&str> = line.split(' ').collect();
            if let ["ACK", doc, key, value] = parts[..] {
                acked
                    .entry(doc.to_owned())
                    .or_default()
                    .insert(key.to_owned(), value.to_owned());
                total_acks += 1;
                return true;
            }
            false
        };
        let mut seen = 0u64;
        if kill_after > 0 {
            for line in writer.lines.by_ref() {
                if record(&line.unwrap(), &mut acked) {
                    seen += 1;
                    if seen >= kill_after {
                        break;
                    }
                }
            }
        }
        std::thread::sleep(delay);
        if writer.kill(|line| {
            record(line, &mut acked);
        }) {
            kills += 1;
        }

        runtime.block_on(async {
            let node = humansync::init(support::config(dir.path()))
                .await
                .unwrap_or_else(|e| panic!("iteration {it}: restart failed: {e}"));
            // Identity survives every kill (written once, atomically, before first use).
            match identity {
                None => identity = Some(node.id()),
                Some(id) => assert_eq!(node.id(), id, "iteration {it}: identity changed"),
            }
            for (doc, keys) in &acked {
                let handle = node.open_doc(doc).await.unwrap();
                for (key, counter) in keys {
                    let value: Option<String> = handle
                        .get(key)
                        .await
                        .unwrap_or_else(|e| panic!("iteration {it}: {doc}: {e}"));
                    let ok = value
                        .as_deref()
                        .is_some_and(|v| v.starts_with(&format!("{counter}:")));
                    assert!(ok, "iteration {it}: {doc} lost acknowledged {key}");
                }
            }
            // Every document the node lists opens and reads.
            for doc in node.list_docs("").await.unwrap() {
                node.open_doc(doc.as_str())
                    .await
                    .unwrap()
                    .read(|am| automerge::ReadDoc::length(am, automerge::ROOT))
                    .await
                    .unwrap_or_else(|e| panic!("iteration {it}: {doc} does not load: {e}"));
            }
            node.shutdown().await.unwrap();
        });
        assert!(
            !dir.path().join("store").join("quarantine").exists()
                || std::fs::read_dir(dir.path().join("store").join("quarantine"))
                    .unwrap()
                    .next()
                    .is_none(),
            "iteration {it}: a document was quarantined"
        );
    }
    assert!(total_acks > 0, "the writers never acknowledged anything");
    println!(
        "node_kill9: {iterations} iterations, {kills} SIGKILLs, {total_acks} acknowledged puts all present"
    );
}
