//! Cost of reconnecting with 10,000 documents, asserted as counts (bytes, frames), never time
//! (HS-RECON-1; HS-RECON-6: `_devices` stays out of the reconciled set, so an unchanged registry
//! adds nothing), with protocol versions 3 (HS-SYNC-14) and 2 (HS-RESUME-*) and with a version-1
//! device.

use automerge::transaction::Transactable;
use humansync_protocol::DocId;
use humansync_sansio::testing::{SERVER, Sim, SimConfig};

const DOCS: usize = 10_000;

fn fixture() -> Vec<(DocId, Vec<u8>)> {
    (0..DOCS)
        .map(|i| {
            let mut am = automerge::Automerge::new().with_actor(automerge::ActorId::from(vec![1, 2, 3, 4]));
            am.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(automerge::ROOT, "title", format!("note {i}"))?;
                Ok(())
            })
            .expect("fixture edit");
            let id = DocId::new(format!(
                "humandocs/doc-{:032x}",
                (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c)
            ))
            .expect("id");
            (id, am.save())
        })
        .collect()
}

fn quiet() -> SimConfig {
    SimConfig {
        loss: 0.0,
        duplicate: 0.0,
        latency_ms: (5, 5),
        ..SimConfig::default()
    }
}

/// A server and a device holding the same 10,000 documents, the device offering `versions`.
fn synced_pair(versions: &[u16]) -> (Sim, Vec<(DocId, Vec<u8>)>) {
    let docs = fixture();
    let mut sim = Sim::new(7, 1, quiet());
    sim.nodes[1].host.versions = versions.to_vec();
    sim.preload(SERVER, &docs);
    sim.preload(1, &docs);
    assert!(sim.settle(120_000), "{}", sim.describe());
    (sim, docs)
}

/// The server changes the first `k` documents (setting key `{round}{k}-{i}`) while cut off from
/// the device; then they reconnect. Returns (total bytes, total frames) of the new session.
fn reconnect_after_changes(sim: &mut Sim, docs: &[(DocId, Vec<u8>)], k: usize, round: &str) -> (u64, u64) {
    sim.disconnect(1);
    sim.set_cut(SERVER, 1, true);
    for (i, (doc, _)) in docs.iter().take(k).enumerate() {
        sim.edit(SERVER, doc, &format!("{round}{k}-{i}"));
    }
    assert!(sim.settle(120_000), "{}", sim.describe());
    sim.set_cut(SERVER, 1, false);
    assert!(sim.settle(120_000), "{}", sim.describe());
    let (ab, af, bb, bf) = sim.link_stats(SERVER, 1).expect("linked");
    sim.check_converged(&[SERVER, 1]).expect("converged");
    (ab + bb, af + bf)
}

/// Reconnects server and device and returns (total bytes, total frames) of the new session.
fn reconnect(sim: &mut Sim) -> (u64, u64) {
    sim.disconnect(1);
    assert!(sim.settle(120_000), "{}", sim.describe());
    let (ab, af, bb, bf) = sim.link_stats(SERVER, 1).expect("linked");
    (ab + bb, af + bf)
}

#[test]
fn reconnect_cost_grows_with_changes_not_with_the_set() {
    // Version 3: one Held acknowledges the whole resume answer (HS-SYNC-14).
    resume_cost(humansync_protocol::SUPPORTED_VERSIONS);
}

#[test]
fn a_version_2_device_acknowledges_each_document() {
    // Version 2: each DocChanges comes back as a ~75 B DocSync acknowledgement (HS-RESUME-4).
    resume_cost(&[humansync_protocol::V1, humansync_protocol::V2]);
}

fn resume_cost(versions: &[u16]) {
    let v3 = versions.contains(&humansync_protocol::V3);
    let (mut sim, docs) = synced_pair(versions);

    // No change: Hello + Welcome only — one round trip, well under 1 KB (HS-RECON-1).
    let (bytes, frames) = reconnect(&mut sim);
    println!("no change: {bytes} B in {frames} frames");
    assert_eq!(frames, 2, "a no-change reconnect is exactly Hello and Welcome");
    assert!(bytes <= 1024, "{bytes} B");

    // Preloaded sets never exchanged Synced, so the first reconnect with a change falls back to
    // range reconciliation (HS-RESUME-3, HS-RESUME-6); its settled session exchanges cursors.
    let (bytes, frames) = reconnect_after_changes(&mut sim, &docs, 1, "w");
    println!("first change, no cursors yet: {bytes} B in {frames} frames");
    assert!(frames > 8, "reconciled: {frames} frames");

    // k changed documents: each side resumes from its cursor into the other's log
    // (HS-RESUME-2, HS-RESUME-3): one DocChanges per changed document, acknowledged (HS-RESUME-4).
    let mut last = 0;
    for k in [1usize, 10, 100] {
        let (bytes, frames) = reconnect_after_changes(&mut sim, &docs, k, "k");
        println!(
            "k={k}: {bytes} B in {frames} frames ({} B per changed doc)",
            bytes / k as u64
        );
        assert!(bytes > last, "more changes, more bytes");
        if v3 {
            // Hello, Welcome, Resume and Resumed each way, a Synced each way, one Held; then one
            // frame per changed document: its DocChanges (its id, ~45 B of changes and framing).
            assert!(frames <= k as u64 + 11, "k={k}: {frames} frames");
            // ≈ 150 B per document with this fixture's 46-byte ids: its id, framing and ~100 B
            // of changes (version 2: ≈ 290 B, 28.0 KB at k = 100 against 15.5 KB now).
            assert!(bytes <= 1_000 + 160 * k as u64, "k={k}: {bytes} B");
        } else {
            // Version 2: two frames per changed document, its DocChanges and the ~75 B
            // acknowledgement.
            assert!(frames <= 2 * k as u64 + 10, "k={k}: {frames} frames");
            // With this fixture's 46-byte ids each acknowledgement is ~125 B (its id, heads twice).
            assert!(bytes <= 1_000 + 300 * k as u64, "k={k}: {bytes} B");
        }
        last = bytes;
    }
}

#[test]
fn a_version_1_device_reconciles_ranges_and_syncs_each_document() {
    let (mut sim, docs) = synced_pair(&[humansync_protocol::V1]);
    let (bytes, frames) = reconnect(&mut sim);
    println!("v1 no change: {bytes} B in {frames} frames");
    assert_eq!(frames, 2, "a no-change reconnect is exactly Hello and Welcome");
    let mut last = 0;
    for k in [1usize, 10, 100] {
        let (bytes, frames) = reconnect_after_changes(&mut sim, &docs, k, "k");
        println!(
            "v1 k={k}: {bytes} B in {frames} frames ({} B per changed doc)",
            bytes / k as u64
        );
        assert!(bytes > last, "more changes, more bytes");
        // Reconciliation plus one Automerge sync exchange per changed document (HS-RECON-3, HS-SYNC-3).
        assert!(bytes <= 4_000 + 2_500 * k as u64, "k={k}: {bytes} B");
        // HS-SYNC-11: the device is only behind, so whichever side starts a document's sync, at
        // most three DocSync frames cross for it (request, changes, acknowledgement) — two when
        // the server starts, as it recognises the device's digest. Without recognising it, the
        // exchange took four (k = 100: 407 frames).
        if k >= 10 {
            assert!(frames <= 3 * k as u64 + 10, "k={k}: {frames} frames");
        }
        last = bytes;
    }
}
