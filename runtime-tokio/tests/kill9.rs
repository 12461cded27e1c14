//! kill -9 during heavy writes: every acknowledged write survives, every document still loads
//! (HS-SYNC-8). The test binary re-invokes itself as the writer (`kill9_child`), reads its
//! acknowledgements, SIGKILLs it at a seeded random moment, reopens the store and checks.
//!
//! `KILL9_ITERATIONS` (default 50) and `KILL9_SEED` override the defaults. A process kill keeps
//! the page cache, so this exercises replay, torn log tails and interrupted renames and
//! checkpoints; lost page-cache writes (power loss) are simulated in `store_model.rs`.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

#[path = "store_support/mod.rs"]
mod common;
#[path = "kill9_support/mod.rs"]
mod kill9_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use common::{Doc, heads, peer};
use humansync::store::StoreOp;
use humansync_protocol::DocId;
use kill9_support::{Writer, below};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

const CHILD_ENV: &str = "HUMANSYNC_KILL9_CHILD";
const DOCS: u64 = 40;

/// Slot `n`'s current document: deleted ids are retired (HS-DOC-5), so a slot moves on to the
/// next generation of its id.
fn live_id(n: u64, deleted: &BTreeSet<DocId>) -> DocId {
    (0..)
        .map(|g| DocId::new(format!("k9/doc-{n}.{g}")).unwrap())
        .find(|id| !deleted.contains(id))
        .unwrap()
}

/// The writer. Runs only when re-invoked by [`kill9`] with `CHILD_ENV` set to `<dir>|<seed>`.
#[test]
fn kill9_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, seed) = spec.split_once('|').unwrap();
    let seed: u64 = seed.parse().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut store = common::open(std::path::Path::new(dir)).unwrap();
    let mut docs: BTreeMap<DocId, Doc> = BTreeMap::new();
    let mut deleted: BTreeSet<DocId> = store
        .startup()
        .index
        .into_iter()
        .filter(|(_, m)| m.tombstone)
        .map(|(d, _)| d)
        .collect();
    let mut out = std::io::stdout().lock();
    // libtest has printed "test kill9_child ... " without a newline: end that line first.
    out.write_all(b"\n").unwrap();
    let mut counter = 0u64;
    for _ in 0..400 {
        let mut batch = Vec::new();
        let mut acks = String::new();
        let mut intents = String::new();
        // Now and then a heavy batch (a bulk transfer): more ops, bigger values.
        let heavy = below(&mut rng, 8) == 0;
        let (ops, max_value) = if heavy { (100, 65_536) } else { (30, 2048) };
        for _ in 0..1 + below(&mut rng, ops) {
            let id = live_id(below(&mut rng, DOCS), &deleted);
            if batch
                .iter()
                .any(|op| matches!(op, StoreOp::Delete { doc } if *doc == id))
            {
                continue;
            }
            if below(&mut rng, 300) == 0 {
                docs.remove(&id);
                deleted.insert(id.clone());
                intents.push_str(&format!("MAYDEL {id}\n"));
                acks.push_str(&format!("DEL {id}\n"));
                batch.push(StoreOp::Delete { doc: id });
                continue;
            }
            let doc = docs
                .entry(id.clone())
                .or_insert_with(|| match store.load(&id).unwrap() {
                    Some((bytes, _)) => Doc::loaded(id.clone(), &bytes, 9),
                    None => Doc::new(id.clone(), 9),
                });
            counter += 1;
            let key = format!("s{seed}-{counter}");
            let filler = "x".repeat(below(&mut rng, max_value) as usize);
            doc.am.put(ROOT, &key, format!("{counter}:{filler}")).unwrap();
            let sync = vec![(peer((counter % 3) as u8), counter.to_le_bytes().to_vec())];
            batch.push(doc.save(below(&mut rng, 8) == 0, sync));
            acks.push_str(&format!("ACK {id} {key} {counter}\n"));
        }
        // A delete may become durable before its acknowledgement is printed: announce it first.
        out.write_all(intents.as_bytes()).unwrap();
        out.flush().unwrap();
        store.apply(&batch).unwrap();
        // Acknowledged only now: the batch is durable.
        out.write_all(acks.as_bytes()).unwrap();
        out.flush().unwrap();
        if below(&mut rng, 15) == 0 {
            store.checkpoint().unwrap();
        }
    }
    store.close().unwrap();
}

#[test]
fn kill9() {
    let iterations: u64 = std::env::var("KILL9_ITERATIONS").map_or(50, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("KILL9_SEED").map_or(0x004b_494c_4c39, |v| v.parse().unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut acked: BTreeMap<DocId, BTreeMap<String, String>> = BTreeMap::new();
    let mut deleted: BTreeSet<DocId> = BTreeSet::new();
    let mut may_delete: BTreeSet<DocId> = BTreeSet::new();
    let (mut total_acks, mut kills, mut torn_tails, mut replayed) = (0u64, 0u64, 0u64, 0u64);
    for it in 0..iterations {
        let child_seed = rng.next_u64() >> 1;
        let kill_after = if below(&mut rng, 10) == 0 {
            0
        } else {
            1 + below(&mut rng, 150)
        };
        let delay = Duration::from_micros(below(&mut rng, 8000));
        let mid_write = below(&mut rng, 3) == 0;
        let mut writer = Writer::spawn(
            "kill9_child",
            CHILD_ENV,
            format!("{}|{child_seed}", dir.path().display()),
        );
        let mut seen = 0u64;
        let mut record = |line: &str, acked: &mut BTreeMap<DocId, BTreeMap<String, String>>| {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts[..] {
                ["ACK", doc, key, value] => {
                    acked
                        .entry(DocId::new(doc).unwrap())
                        .or_default()
                        .insert(key.into(), value.into());
                }
                ["DEL", doc] => {
                    deleted.insert(DocId::new(doc).unwrap());
                }
                ["MAYDEL", doc] => {
                    may_delete.insert(DocId::new(doc).unwrap());
                    return false;
                }
                _ => return false,
            }
            total_acks += 1;
            true
        };
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
        if mid_write {
            // Aim at the log write itself: kill as soon as the log starts growing.
            let wal = dir.path().join("wal");
            let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
            let start = size();
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while size() == start && std::time::Instant::now() < deadline {
                std::hint::spin_loop();
            }
        } else {
            std::thread::sleep(delay);
        }
        if writer.kill(|line| {
            record(line, &mut acked);
        }) {
            kills += 1;
        }

        let store = common::open(dir.path()).unwrap_or_else(|e| panic!("iteration {it}: reopen failed: {e}"));
        let stats = store.stats();
        torn_tails += u64::from(stats.wal_bytes_dropped > 0);
        replayed += stats.wal_ops_replayed;
        let tombstones: BTreeSet<DocId> = store
            .startup()
            .index
            .into_iter()
            .filter(|(_, m)| m.tombstone)
            .map(|(d, _)| d)
            .collect();
        for doc in &tombstones {
            // Only a delete the writer announced can have happened (acknowledged or not).
            assert!(
                may_delete.contains(doc),
                "iteration {it}: {doc} deleted without a delete op"
            );
        }
        for doc in &deleted {
            assert!(
                tombstones.contains(doc),
                "iteration {it}: acknowledged delete of {doc} lost"
            );
            assert_eq!(store.load(doc).unwrap(), None, "iteration {it}: {doc} came back");
        }
        for (doc, keys) in &acked {
            if tombstones.contains(doc) {
                continue;
            }
            let (bytes, _) = store
                .load(doc)
                .unwrap_or_else(|e| panic!("iteration {it}: {doc}: {e}"))
                .unwrap_or_else(|| panic!("iteration {it}: acknowledged {doc} is missing"));
            let am = AutoCommit::load(&bytes).unwrap();
            for (key, counter) in keys {
                let value = am.get(ROOT, key.as_str()).unwrap().map(|(v, _)| v.to_string());
                let ok = value
                    .as_deref()
                    .is_some_and(|v| v.trim_matches('"').starts_with(&format!("{counter}:")));
                assert!(ok, "iteration {it}: {doc} lost acknowledged {key}");
            }
        }
        for (doc, meta) in store.startup().index {
            if meta.tombstone {
                continue;
            }
            let (bytes, _) = store.load(&doc).unwrap().unwrap();
            let mut am = AutoCommit::load(&bytes).unwrap_or_else(|e| panic!("iteration {it}: {doc}: {e}"));
            assert_eq!(
                heads(&mut am),
                meta.heads.to_vec(),
                "iteration {it}: {doc}: index row disagrees with content"
            );
        }
        assert!(
            store.quarantine_reports().is_empty(),
            "iteration {it}: {:?}",
            store.quarantine_reports()
        );
    }
    println!(
        "kill9: {iterations} iterations, {kills} SIGKILLs, {total_acks} acknowledged writes all present, \
         {torn_tails} torn log tails dropped, {replayed} logged ops replayed"
    );
}
