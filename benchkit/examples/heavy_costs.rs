//! Where a one-character edit of the heavy document spends its time, operation by operation in
//! Automerge (issue 22 §1b): `cargo run --release -p humansync-benchkit --example heavy_costs [changes]`.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT, ReadDoc};
use humansync_benchkit::heavy;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(heavy::FULL_CHANGES);
    let t = Instant::now();
    let h = heavy::heavy(n, 22);
    println!(
        "generate {n} changes: {:.0} ms, {} chars, {} B saved",
        ms(t),
        h.chars,
        h.saved.len()
    );
    let t = Instant::now();
    let mut a = Automerge::load(&h.saved).unwrap();
    println!("load: {:.1} ms", ms(t));
    let mut b = a.fork();
    let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
    for _ in 0..4 {
        if let Some(m) = a.generate_sync_message(&mut sa) {
            b.receive_sync_message(&mut sb, m).unwrap();
        }
        if let Some(m) = b.generate_sync_message(&mut sb) {
            a.receive_sync_message(&mut sa, m).unwrap();
        }
    }
    let (_, text) = a.get(ROOT, heavy::TEXT_KEY).unwrap().unwrap();
    for i in 0..5 {
        let old = a.get_heads();
        let t = Instant::now();
        a.transact::<_, _, automerge::AutomergeError>(|tx| tx.splice_text(&text, 100 + i, 0, "x"))
            .unwrap();
        let edit = ms(t);
        let t = Instant::now();
        let inc = a.save_after(&old);
        let save_after = ms(t);
        let t = Instant::now();
        let count = a.iter().count();
        let iter = ms(t);
        let t = Instant::now();
        let m = a.generate_sync_message(&mut sa).unwrap();
        let gen_ms = ms(t);
        let enc = m.clone().encode();
        let t = Instant::now();
        b.receive_sync_message(&mut sb, m).unwrap();
        let recv = ms(t);
        let t = Instant::now();
        let reply = b.generate_sync_message(&mut sb);
        let gen_b = ms(t);
        let reply_len = reply.as_ref().map(|r| r.clone().encode().len()).unwrap_or(0);
        if let Some(r) = reply {
            a.receive_sync_message(&mut sa, r).unwrap();
        }
        let t = Instant::now();
        let st = sa.encode();
        let enc_state = ms(t);
        println!(
            "edit {i}: transact {edit:.2} ms, save_after {save_after:.2} ms ({} B), iter {iter:.2} ms ({count} items), gen {gen_ms:.2} ms ({} B), peer receive {recv:.2} ms, peer reply {gen_b:.2} ms ({reply_len} B), state encode {enc_state:.3} ms ({} B)",
            inc.len(),
            enc.len(),
            st.len()
        );
    }
    let t = Instant::now();
    let full = a.save();
    println!("save: {:.1} ms ({} B)", ms(t), full.len());
    let t = Instant::now();
    let mut c = Automerge::load(&full).unwrap();
    println!("reload: {:.1} ms", ms(t));
    let old = c.get_heads();
    let t = Instant::now();
    c.load_incremental(&a.save_after(&old)).unwrap();
    println!("load_incremental of nothing new: {:.2} ms", ms(t));
}
