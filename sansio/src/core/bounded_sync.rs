//! Outgoing Automerge sync messages within the bounds a receiver enforces (HS-SYNC-9).
//!
//! Automerge puts every change the peer lacks into one sync message, and when the peer lacks more
//! than a third of the document (or everything) one whole saved document. For a large document
//! that message exceeds `MAX_DOC_BYTES` (HS-FRAME-4) or the receiver's parse budget
//! (`MAX_AUTOMERGE_EXPANDED_BYTES`, `MAX_AUTOMERGE_ROWS`, HS-SYNC-12), so it is cut here into a
//! run of messages that each fit:
//!
//! ```text
//! generated: heads H, need N, have V, changes [doc chunk of c1..cn]     (too large)
//! sent:      heads H, need N, have V, changes [c1 .. ci]                 (each within the bounds)
//!            heads H, need N, have V, changes [ci+1 .. cj]
//!            ...
//! ```
//!
//! Every part repeats the generated message's heads, need, have and flags and carries the next
//! changes (the ones Automerge just recorded as sent, in Automerge's dependency order, each as
//! its own change chunk) that fit: encoded size at most the limit, and the expanded bytes and
//! rows the receiver's check will charge within its budget. Each part is an ordinary sync
//! message: the receiver applies it and answers as usual, and since the sync state already
//! records every part as sent, the answers never make the sender repeat a change. The parts go
//! back to back on the session's stream, so the whole transfer costs no extra round trip. A
//! single change that does not fit alone cannot be sent: the caller reports it.

use std::collections::BTreeSet;

use automerge::sync::{self, ChunkList, MessageVersion};
use automerge::{Automerge, ChangeHash};
use humansync_protocol::limits::{MAX_AUTOMERGE_EXPANDED_BYTES, MAX_AUTOMERGE_ROWS};

/// Room for a LEB128 length or count (a `u64` needs at most 10 bytes).
const LEB_MAX: usize = 10;

/// A change that alone exceeds the bounds of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChangeTooLarge {
    /// Its encoded size.
    pub(crate) bytes: usize,
}

/// Encodes `message` as one or more sync messages, each at most `limit` bytes and within the
/// receiver's parse budget (HS-SYNC-9, HS-SYNC-12). `sent` are the changes the message carries:
/// those its generation added to the sync state's sent hashes.
pub(crate) fn encode_bounded(
    am: &Automerge,
    message: sync::Message,
    sent: &BTreeSet<ChangeHash>,
    limit: usize,
) -> Result<Vec<Vec<u8>>, ChangeTooLarge> {
    let header = sync::Message {
        heads: message.heads.clone(),
        need: message.need.clone(),
        have: message.have.clone(),
        changes: ChunkList::empty(),
        flags: message.flags,
        version: MessageVersion::V1,
    };
    let whole = message.encode();
    if whole.len() <= limit && crate::untrusted::check_sync_message(&whole).is_ok() {
        return Ok(vec![whole]);
    }
    drop(whole);
    let header_len = header.clone().encode().len() + LEB_MAX;
    let mut parts = Vec::new();
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let (mut size, mut expanded, mut rows) = (header_len, 0u64, 0u64);
    for mut change in am.get_changes(&[]) {
        if !sent.contains(&change.hash()) {
            continue;
        }
        let bytes = change.bytes().into_owned();
        // What the receiver's check will charge for this chunk (HS-SYNC-12).
        let cost =
            crate::untrusted::check_saved(&bytes).map_err(|_| ChangeTooLarge { bytes: bytes.len() })?;
        let len = bytes.len() + LEB_MAX;
        if header_len + len > limit {
            return Err(ChangeTooLarge { bytes: bytes.len() });
        }
        let fits = size + len <= limit
            && expanded + cost.expanded() <= MAX_AUTOMERGE_EXPANDED_BYTES
            && rows + cost.rows() <= MAX_AUTOMERGE_ROWS;
        if !fits && !batch.is_empty() {
            parts.push(part(&header, std::mem::take(&mut batch)));
            (size, expanded, rows) = (header_len, 0, 0);
        }
        size += len;
        expanded += cost.expanded();
        rows += cost.rows();
        batch.push(bytes);
    }
    if !batch.is_empty() || parts.is_empty() {
        parts.push(part(&header, batch));
    }
    Ok(parts)
}

/// One part: the header's heads, need, have and flags with these change chunks.
fn part(header: &sync::Message, changes: Vec<Vec<u8>>) -> Vec<u8> {
    let mut message = header.clone();
    message.changes = ChunkList::from(changes);
    message.encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::sync::SyncDoc;
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ROOT, ReadDoc};

    /// A document of `n` changes of `size` pseudo-random (incompressible) bytes each.
    fn big_doc(n: usize, size: usize) -> Automerge {
        let mut am = Automerge::new().with_actor(ActorId::from(vec![7; 16]));
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..n {
            let value: Vec<u8> = (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let mut tx = am.transaction();
            tx.put(ROOT, format!("k{i}"), value).expect("put");
            tx.commit();
        }
        am
    }

    /// Syncs `from` into an empty document through bounded messages only; returns the parts'
    /// sizes and the receiver.
    fn sync_bounded(mut from: Automerge, limit: usize) -> (Vec<usize>, Automerge) {
        let mut to = Automerge::new();
        let (mut s_from, mut s_to) = (sync::State::new(), sync::State::new());
        let mut sizes = Vec::new();
        for _ in 0..20 {
            let mut quiet = true;
            let before = s_from.sent_hashes.clone();
            if let Some(m) = from.generate_sync_message(&mut s_from) {
                quiet = false;
                let sent = s_from.sent_hashes.difference(&before).copied().collect();
                for bytes in encode_bounded(&from, m, &sent, limit).expect("every change fits") {
                    sizes.push(bytes.len());
                    assert!(bytes.len() <= limit, "a part of {} bytes", bytes.len());
                    let m = crate::untrusted::decode_sync_message(&bytes).expect("within the budget");
                    to.receive_sync_message(&mut s_to, m).expect("applies");
                }
            }
            if let Some(m) = to.generate_sync_message(&mut s_to) {
                quiet = false;
                let bytes = m.encode();
                let m = crate::untrusted::decode_sync_message(&bytes).expect("decodes");
                from.receive_sync_message(&mut s_from, m).expect("applies");
            }
            if quiet {
                break;
            }
        }
        (sizes, to)
    }

    // HS-SYNC-9: a document larger than the limit arrives whole, every message within it.
    #[test]
    fn a_large_document_is_sent_in_parts_within_the_limit() {
        let from = big_doc(12, 4_000);
        let (sizes, to) = sync_bounded(from.clone(), 10_000);
        assert!(
            sizes.iter().filter(|s| **s > 1_000).count() >= 5,
            "the changes were split: {sizes:?}"
        );
        assert_eq!(to.get_heads(), from.get_heads());
        assert_eq!(to.keys(ROOT).count(), 12);
    }

    // HS-SYNC-9: a message within the limit is sent as Automerge made it.
    #[test]
    fn a_small_message_is_unchanged() {
        let from = big_doc(2, 100);
        let mut state = sync::State::new();
        let m = from.generate_sync_message(&mut state).expect("a first message");
        let parts = encode_bounded(&from, m.clone(), &BTreeSet::new(), 10_000).expect("fits");
        assert_eq!(parts, vec![m.encode()]);
    }

    // HS-SYNC-9: a single change over the limit cannot be sent, and says how large it is.
    #[test]
    fn a_change_over_the_limit_is_reported() {
        let from = big_doc(1, 20_000);
        let mut state = sync::State::new();
        assume_empty_peer(&mut state);
        let before = state.sent_hashes.clone();
        let m = from.generate_sync_message(&mut state).expect("a message");
        let sent = state.sent_hashes.difference(&before).copied().collect();
        let err = encode_bounded(&from, m, &sent, 10_000).expect_err("too large");
        assert!(err.bytes > 10_000, "{err:?}");
    }

    fn assume_empty_peer(state: &mut sync::State) {
        crate::core::push::assume_peer_has(state, &[]);
    }
}
