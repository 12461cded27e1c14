//! The registry over `_devices` Automerge documents: reading every value
//! (HS-REG-2, HS-REG-3), ignoring invalid entries, keeping and re-inserting
//! records a peer deleted (HS-REG-4) and refusing forged records (HS-REG-5).

mod registry_support;

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use humansync_protocol::CloseCode;
use humansync_protocol::hex_text;
use humansync_sansio::gate::{Admission, admit};
use humansync_sansio::registry::{ANCHOR_KEY, Registry, RegistryChange, put_record};
use registry_support::*;

fn hash_key(bytes: &[u8]) -> String {
    hex_text::encode(blake3::hash(bytes).as_bytes())
}

// HS-REG-2: put_record writes the record under its key; absorb_doc reads it back.
#[test]
fn put_record_then_absorb() {
    let mut d = doc(1);
    let rec = device(1, "phone", 100);
    assert!(put_record(&mut d, &rec));
    assert!(!put_record(&mut d, &rec), "second put changes nothing");
    assert_eq!(doc_keys(&d), vec![rec.key()]);

    let mut reg = registry();
    assert_eq!(reg.absorb_doc(&d), vec![RegistryChange::Added(id(1))]);
    assert!(reg.absorb_doc(&d).is_empty(), "absorbing again changes nothing");
    assert!(reg.is_admitted(&id(1)));
}

// HS-REG-3: garbage bytes, non-bytes values, wrong keys and bad signatures are ignored.
#[test]
// HS-REG-8: a value under the wrong key, or not canonical, is ignored.
fn invalid_entries_are_ignored() {
    let mut d = doc(1);
    let good = device(1, "phone", 100);
    put_record(&mut d, &good);

    // Garbage bytes under the key that is their own hash (the key check passes, decoding fails).
    let garbage = vec![0xde, 0xad, 0xbe, 0xef];
    put_raw(&mut d, &hash_key(&garbage), garbage);
    // A valid record under a key that is not its hash.
    let misplaced = device(2, "misplaced", 100);
    put_raw(&mut d, &"0".repeat(64), misplaced.encode());
    // The same valid record under its key in uppercase (keys are lowercase hex).
    let upper = device(3, "upper", 100);
    put_raw(&mut d, &upper.key().to_uppercase(), upper.encode());
    // A forged signature, under the hash of its own bytes.
    let mut forged = device(4, "forged", 100);
    forged.signature[0] ^= 0x80;
    put_raw(&mut d, &forged.key(), forged.encode());
    // A string scalar and a nested map where bytes are expected.
    let map = match d.get(ROOT, "records").expect("readable") {
        Some((_, id)) => id,
        None => panic!("records map exists"),
    };
    d.transact(|tx| {
        tx.put(&map, device(5, "s", 1).key(), "not bytes")?;
        tx.put_object(&map, device(6, "m", 1).key(), ObjType::Map)?;
        Ok::<_, automerge::AutomergeError>(())
    })
    .expect("writes");

    let mut reg = registry();
    assert_eq!(reg.absorb_doc(&d), vec![RegistryChange::Added(id(1))]);
    assert_eq!(reg.record_count(), 1);
    for n in 2..=6 {
        assert!(!reg.is_admitted(&id(n)), "device {n} must not be admitted");
        assert_eq!(reg.status(&id(n)), None);
    }
}

// HS-REG-8: a validly signed record whose stored bytes are not the canonical postcard encoding
// (here the payload length as a two-byte varint, which postcard's decoder accepts, HS-MSG-3) is
// ignored even under the hash of its own bytes: a valid entry is exactly postcard(SignedRecord).
#[test]
fn non_canonical_record_bytes_are_ignored() {
    let record = device(7, "long-varint", 100);
    let canonical = record.encode();
    assert!(canonical[0] < 0x80, "a one-byte payload length");
    let mut stretched = vec![canonical[0] | 0x80, 0x00];
    stretched.extend_from_slice(&canonical[1..]);
    assert_eq!(
        humansync_protocol::SignedRecord::decode(&stretched).as_ref(),
        Ok(&record),
        "the decoder itself accepts the longer varint"
    );

    let mut d = doc(1);
    put_raw(&mut d, &hash_key(&stretched), stretched);
    let mut reg = registry();
    assert!(
        reg.absorb_doc(&d).is_empty(),
        "non-canonical bytes must not be read as a record"
    );
    assert!(!reg.is_admitted(&id(7)));
    assert_eq!(reg.record_count(), 0);
}

// HS-REG-3: every conflicting "records" map is read, not just the winner.
#[test]
fn conflicting_records_maps_are_all_read() {
    // Two devices each create "records" concurrently: the root key conflicts.
    let mut a = doc(1);
    let mut b = doc(2);
    put_record(&mut a, &device(1, "one", 1));
    put_record(&mut b, &device(2, "two", 2));
    a.merge(&mut b).expect("merge");
    assert_eq!(a.get_all(ROOT, "records").expect("readable").len(), 2);
    assert_eq!(doc_keys(&a).len(), 1, "the winning map alone holds one record");

    let mut reg = registry();
    let mut changes = reg.absorb_doc(&a);
    changes.sort_by_key(|c| match c {
        RegistryChange::Added(d) | RegistryChange::Revoked(d) => *d,
    });
    let mut expected = vec![RegistryChange::Added(id(1)), RegistryChange::Added(id(2))];
    expected.sort_by_key(|c| match c {
        RegistryChange::Added(d) | RegistryChange::Revoked(d) => *d,
    });
    assert_eq!(changes, expected);

    // heal_doc copies the loser's record into the winning map.
    assert!(reg.heal_doc(&mut a));
    assert_eq!(doc_keys(&a).len(), 2);
    assert!(!reg.heal_doc(&mut a), "healing is idempotent");
}

// HS-REG-3: every conflicting value of one key is read; a garbage winner cannot hide a valid record.
#[test]
fn conflicting_values_under_one_key_are_all_read() {
    let rec = device(1, "phone", 100);
    for (valid_actor, garbage_actor) in [(1u8, 2u8), (2, 1)] {
        // A shared records map (holding some other record), then concurrent puts at one key.
        let mut base = doc(9);
        put_record(&mut base, &device(2, "other", 1));
        let mut a = fork(&base, valid_actor);
        let mut b = fork(&base, garbage_actor);
        put_record(&mut a, &rec);
        put_raw(&mut b, &rec.key(), vec![1, 2, 3]);
        a.merge(&mut b).expect("merge");
        let map = match a.get(ROOT, "records").expect("readable") {
            Some((_, id)) => id,
            None => panic!("map"),
        };
        assert_eq!(a.get_all(&map, rec.key()).expect("readable").len(), 2);
        assert!(
            absorbed(&a).is_admitted(&id(1)),
            "valid value read whichever wins"
        );
    }
}

// HS-REG-4: a registered device deleting keys from its copy cannot make a peer forget a revocation.
#[test]
fn peer_deleting_a_revocation_cannot_make_others_forget_it() {
    // The anchor's `_devices`: devices 1 (the attacker) and 2 registered, 3 revoked.
    let mut server = doc(0xA0);
    for rec in [
        device(1, "attacker", 1),
        device(2, "peer", 2),
        device(3, "lost", 3),
        revoked(3, 10),
    ] {
        put_record(&mut server, &rec);
    }
    let rev_key = revoked(3, 10).key();

    // Peer 2 syncs from the server and learns the revocation.
    let mut peer_doc = fork(&server, 2);
    let mut peer = registry();
    peer.absorb_doc(&peer_doc);
    assert!(!peer.is_admitted(&id(3)));

    // The attacker deletes the revocation (and a Device record) from its copy.
    let mut attacker_doc = fork(&server, 1);
    delete_key(&mut attacker_doc, &rev_key);
    delete_key(&mut attacker_doc, &device(2, "peer", 2).key());
    assert!(
        absorbed(&attacker_doc).is_admitted(&id(3)),
        "the deletion is real in its copy"
    );

    // The peer merges the attacker's copy: the keys vanish from its doc, not from its view.
    peer_doc.merge(&mut attacker_doc).expect("merge");
    assert!(!doc_keys(&peer_doc).contains(&rev_key));
    assert!(peer.absorb_doc(&peer_doc).is_empty());
    assert!(!peer.is_admitted(&id(3)));
    assert!(peer.is_revoked(&id(3)));
    assert!(peer.is_admitted(&id(2)));

    // heal_doc re-inserts both records; a fresh node learning from the healed doc sees the revocation.
    assert!(peer.heal_doc(&mut peer_doc));
    assert!(doc_keys(&peer_doc).contains(&rev_key));
    let mut newcomer_doc = fork(&attacker_doc, 4);
    newcomer_doc.merge(&mut peer_doc).expect("merge");
    let newcomer = absorbed(&newcomer_doc);
    assert!(newcomer.is_revoked(&id(3)));
    assert_eq!(view(&newcomer), view(&peer));
}

// HS-REG-4: a stale copy of `_devices` merged after a revocation never re-admits.
#[test]
fn stale_copy_merged_after_revocation_never_readmits() {
    let mut server = doc(0xA0);
    put_record(&mut server, &device(1, "phone", 1));
    let mut stale = fork(&server, 5); // taken before the revocation
    put_record(&mut server, &revoked(1, 50));

    let mut node_doc = fork(&server, 2);
    let mut node = absorbed(&node_doc);
    assert!(!node.is_admitted(&id(1)));

    // The stale copy writes something of its own, then arrives.
    put_record(&mut stale, &device(1, "phone", 1));
    node_doc.merge(&mut stale).expect("merge");
    assert!(node.absorb_doc(&node_doc).is_empty());
    assert!(!node.is_admitted(&id(1)));
    assert_eq!(
        admit(&id(1), &id(2), &node),
        Admission::Reject(CloseCode::REVOKED)
    );
    assert!(!absorbed(&node_doc).is_admitted(&id(1)));
}

// HS-REG-5: a registered device writing a well-formed but unsigned/forged Device record gains nothing.
#[test]
fn self_written_device_record_gets_no_admission() {
    let mut server = doc(0xA0);
    put_record(&mut server, &device(1, "member", 1));
    let mut member_doc = fork(&server, 1);
    // Signed with the member's own key, and one with an all-zero signature; both stored under correct keys.
    let self_signed = device_signed_by(&key(1), 7, "friend", 5);
    let mut unsigned = device(8, "friend2", 5);
    unsigned.signature = [0; 64];
    assert!(put_record(&mut member_doc, &self_signed));
    assert!(put_record(&mut member_doc, &unsigned));

    let mut node = registry();
    node.absorb_doc(&server);
    let mut node_doc = fork(&server, 2);
    node_doc.merge(&mut member_doc).expect("merge");
    assert!(node.absorb_doc(&node_doc).is_empty());
    for n in [7, 8] {
        assert!(!node.is_admitted(&id(n)));
        assert_eq!(
            admit(&id(n), &id(2), &node),
            Admission::Reject(CloseCode::NOT_REGISTERED)
        );
    }
    assert_eq!(node.record_count(), 1);
}

// HS-REG-4: heal_doc writes the anchor hex once and every record, into an empty doc.
#[test]
fn heal_doc_fills_an_empty_doc() {
    let mut reg = registry();
    for rec in [device(1, "a", 1), device(2, "b", 2), revoked(2, 3)] {
        reg.insert(&rec).expect("valid");
    }
    let mut d = doc(3);
    assert!(reg.heal_doc(&mut d));
    assert!(!reg.heal_doc(&mut d));
    let anchor_text = match d.get(ROOT, ANCHOR_KEY).expect("readable") {
        Some((automerge::Value::Scalar(s), _)) => s.as_str().map(str::to_owned),
        _ => None,
    };
    assert_eq!(anchor_text, Some(anchor().to_string()));
    assert_eq!(doc_keys(&d).len(), 3);
    assert_eq!(view(&absorbed(&d)), view(&reg));
}

// HS-REG-2: "anchor" in the doc is informational; a wrong value is left alone and never trusted.
#[test]
fn doc_anchor_is_never_trusted() {
    let mut d = doc(1);
    d.transact(|tx| tx.put(ROOT, ANCHOR_KEY, id(1).to_string()))
        .expect("put");
    // A record signed by device 1, which the doc claims is the anchor.
    put_record(&mut d, &device_signed_by(&key(1), 2, "x", 1));
    let mut reg = registry();
    assert!(reg.absorb_doc(&d).is_empty());
    assert!(!reg.is_admitted(&id(2)));
    assert!(
        !reg.heal_doc(&mut d),
        "nothing to add: no records, anchor key present"
    );
}

// HS-GATE-2: an unpaired node reads nothing from any doc.
#[test]
fn unpaired_node_absorbs_nothing() {
    let mut d = doc(1);
    put_record(&mut d, &device(1, "a", 1));
    let mut reg = Registry::new(None);
    assert!(reg.absorb_doc(&d).is_empty());
    assert_eq!(reg.record_count(), 0);
    assert!(!reg.heal_doc(&mut d));
}

// HS-REG-3: a "records" key holding a scalar is replaced by a map on heal.
#[test]
fn heal_replaces_a_non_map_records_value() {
    let mut d = doc(1);
    d.transact(|tx| tx.put(ROOT, "records", "vandalised"))
        .expect("put");
    let mut reg = registry();
    reg.insert(&device(1, "a", 1)).expect("valid");
    assert!(reg.absorb_doc(&d).is_empty());
    assert!(reg.heal_doc(&mut d));
    assert_eq!(doc_keys(&d), vec![device(1, "a", 1).key()]);
    assert!(absorbed(&d).is_admitted(&id(1)));
}

// HS-REG-3, issue 16 §3: entries with invalid signatures stay in `_devices` for ever (they cannot
// be removed); each is verified once, not again on every change of the document.
#[test]
fn invalid_entries_are_verified_once() {
    let mut d = doc(1);
    put_record(&mut d, &device(1, "phone", 100));
    let forger = key(200);
    for n in 0..100u8 {
        put_record(&mut d, &device_signed_by(&forger, n, "forged", 1));
    }
    let mut reg = registry();
    for round in 0..10u8 {
        reg.absorb_doc(&d);
        // Every round the document changes (as with each edit of `_devices`).
        put_record(&mut d, &device(2 + round, "more", 100));
    }
    reg.absorb_doc(&d);
    assert!(reg.is_admitted(&id(1)) && !reg.is_admitted(&id(0)));
    assert_eq!(
        reg.verifications(),
        1 + 100 + 10,
        "each valid and each forged record verified exactly once"
    );
}
