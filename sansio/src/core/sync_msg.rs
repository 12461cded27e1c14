//! Receiving one Automerge sync message, with the answer HS-SYNC-7 needs.
//!
//! Automerge skips its answer to a message that carries no changes and announces exactly our
//! heads, and records those heads as already told to the peer. When we never told the peer those
//! heads (we reached them by another path — another peer, a resume — while our previous message
//! with older heads was in flight), the peer keeps waiting for an answer that never comes, and
//! its sync with us never settles (found by the simulation, `SIM_SEED=1767` before the dialling
//! policy moved into the core). So the record is undone: the next sync step tells the peer our
//! heads, once; the peer's own step then has nothing more to say.

use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, AutomergeError};

/// [`SyncDoc::receive_sync_message`], keeping `last_sent_heads` to heads actually sent.
pub(crate) fn receive(
    am: &mut Automerge,
    state: &mut sync::State,
    message: sync::Message,
) -> Result<(), AutomergeError> {
    let told = state.last_sent_heads.clone();
    am.receive_sync_message(state, message)?;
    // The only other change automerge makes here is a reset to no heads (the peer lost its data).
    if !state.last_sent_heads.is_empty() && state.last_sent_heads != told {
        state.last_sent_heads = told;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::sync::{self, SyncDoc};
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ROOT};

    fn put(am: &mut Automerge, key: &str) {
        let mut tx = am.transaction();
        tx.put(ROOT, key, 1).expect("put");
        tx.commit();
    }

    /// Runs the race with `receive` on both sides; returns the waiting peer's final state.
    fn race(receive: impl Fn(&mut Automerge, &mut sync::State, sync::Message)) -> (Automerge, sync::State) {
        // Both hold change h0, in sync.
        let mut a = Automerge::new().with_actor(ActorId::from(vec![1]));
        put(&mut a, "h0");
        let mut b = a.fork().with_actor(ActorId::from(vec![2]));
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        // A makes change X; both start a sync step at once: A announces [h0 X], B announces [h0].
        put(&mut a, "x");
        let m1 = a.generate_sync_message(&mut sa).expect("A's first message");
        let m2 = b.generate_sync_message(&mut sb).expect("B's first message");
        // B receives X by another path (another peer, a resume) before A's message arrives.
        b.merge(&mut a.clone()).expect("merge");
        receive(&mut b, &mut sb, m1);
        let mut to_a = Vec::new();
        to_a.extend(b.generate_sync_message(&mut sb));
        // A receives B's stale announcement and sends X, which B already holds.
        receive(&mut a, &mut sa, m2);
        let mut to_b: Vec<sync::Message> = a.generate_sync_message(&mut sa).into_iter().collect();
        // Deliver everything until both are quiet.
        for _ in 0..10 {
            for m in std::mem::take(&mut to_a) {
                receive(&mut a, &mut sa, m);
                to_b.extend(a.generate_sync_message(&mut sa));
            }
            for m in std::mem::take(&mut to_b) {
                receive(&mut b, &mut sb, m);
                to_a.extend(b.generate_sync_message(&mut sb));
            }
        }
        (a, sa)
    }

    // HS-SYNC-7: the peer that sent X learns that B holds it; with automerge's own receive it
    // keeps B's stale heads and a message in flight for ever.
    #[test]
    fn a_peer_learns_our_heads_reached_by_another_path() {
        let (a, sa) = race(|am, state, m| super::receive(am, state, m).expect("receive"));
        assert!(
            a.has_our_changes(&sa),
            "A still waits: their heads {:?}",
            sa.their_heads
        );
        assert!(!sa.in_flight);
        let (a, sa) = race(|am, state, m| am.receive_sync_message(state, m).expect("receive"));
        assert!(
            !a.has_our_changes(&sa),
            "automerge alone now settles: this helper can go"
        );
    }
}
