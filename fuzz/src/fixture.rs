//! Fixed keys, signed registry records and sample documents shared by the targets.
//!
//! Everything here is built once per process ([`fixture`]) from constant seeds, so a
//! crashing input replays exactly.

use std::sync::OnceLock;

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT};
use ed25519_dalek::SigningKey;
use humansync_protocol::{BlobHash, ChangeHash, DeviceId, DocId, RegistryRecord, SignedRecord};
use humansync_sansio::registry::{Registry, put_record};

/// One sample application document as a store would hold it.
#[derive(Debug, Clone)]
pub struct SampleDoc {
    /// Its id.
    pub id: DocId,
    /// `Automerge::save()` bytes.
    pub bytes: Vec<u8>,
    /// Its heads, sorted.
    pub heads: Vec<ChangeHash>,
    /// Blobs it references.
    pub blobs: Vec<BlobHash>,
    /// The same document after a diverging change by another actor: bytes and heads.
    pub diverged: (Vec<u8>, Vec<ChangeHash>),
    /// Automerge sync messages a peer could send for this document (first messages from
    /// equal, diverged and empty peers, and a later message that carries changes).
    pub sync_messages: Vec<Vec<u8>>,
}

/// Keys, records and documents used by the targets.
#[derive(Debug)]
pub struct Fixture {
    /// The registry anchor (the server).
    pub anchor: SigningKey,
    /// The device under test (the core's own id).
    pub me: SigningKey,
    /// A registered, never revoked peer.
    pub registered: SigningKey,
    /// A peer no record names.
    pub unregistered: SigningKey,
    /// A peer registered and then revoked.
    pub revoked: SigningKey,
    /// Device records for me, registered and revoked, then the revocation of `revoked`.
    pub records: Vec<SignedRecord>,
    /// A later revocation of `registered` (fed by peers in `core_session`).
    pub revoke_registered: SignedRecord,
    /// A revocation of `me` (HS-GATE-5).
    pub revoke_me: SignedRecord,
    /// A Device record signed by `registered` instead of the anchor (must be ignored).
    pub forged: SignedRecord,
    /// The saved `_devices` document holding [`Fixture::records`].
    pub devices_doc: Vec<u8>,
    /// `devices_doc` plus one more record: (bytes, which record), for each of
    /// `revoke_registered`, `revoke_me` and `forged`.
    pub devices_doc_plus: Vec<Vec<u8>>,
    /// Sample application documents.
    pub docs: Vec<SampleDoc>,
    /// A blob referenced by the first sample document.
    pub blob: BlobHash,
    /// [`Fixture::records`] verified into a registry, once.
    base: Registry,
}

impl Fixture {
    /// The anchor's device id.
    pub fn anchor_id(&self) -> DeviceId {
        DeviceId::from(&self.anchor)
    }

    /// A registry trusting the anchor with [`Fixture::records`] inserted (one revocation).
    pub fn base_registry(&self) -> Registry {
        self.base.clone()
    }
}

/// The process-wide fixture.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32])
}

fn sign(anchor: &SigningKey, record: RegistryRecord) -> SignedRecord {
    record.sign(anchor).expect("fixture record within limits")
}

/// A fresh document with a fixed actor (no OS randomness reaches any output).
pub fn new_doc(actor: u8) -> Automerge {
    Automerge::new().with_actor(ActorId::from(vec![actor; 16]))
}

fn sorted_heads(am: &Automerge) -> Vec<ChangeHash> {
    let mut heads: Vec<ChangeHash> = am.get_heads().iter().map(|h| ChangeHash(h.0)).collect();
    heads.sort_unstable();
    heads
}

fn build() -> Fixture {
    let anchor = key(0xa0);
    let (me, registered, unregistered, revoked) = (key(1), key(2), key(3), key(4));
    let device = |k: &SigningKey, name: &str| RegistryRecord::Device {
        device: DeviceId::from(k),
        name: name.to_owned(),
        paired_at_ms: 1_700_000_000_000,
    };
    let revoke = |k: &SigningKey| RegistryRecord::Revoked {
        device: DeviceId::from(k),
        revoked_at_ms: 1_700_000_500_000,
    };
    let records = vec![
        sign(&anchor, device(&me, "me")),
        sign(&anchor, device(&registered, "registered")),
        sign(&anchor, device(&revoked, "revoked")),
        sign(&anchor, revoke(&revoked)),
    ];
    let revoke_registered = sign(&anchor, revoke(&registered));
    let revoke_me = sign(&anchor, revoke(&me));
    let forged = sign(&registered, device(&unregistered, "forged"));

    let mut am = new_doc(0xa0);
    for record in &records {
        put_record(&mut am, record);
    }
    let mut base = Registry::new(Some(DeviceId::from(&anchor)));
    for record in &records {
        // Fixture records are signed by the anchor over a well-formed payload.
        base.insert(record).expect("fixture record verifies");
    }
    base.heal_doc(&mut am);
    let devices_doc = am.save();
    let devices_doc_plus = [&revoke_registered, &revoke_me, &forged]
        .into_iter()
        .map(|extra| {
            let mut fork = am.fork().with_actor(ActorId::from(vec![0xa1; 16]));
            put_record(&mut fork, extra);
            fork.save()
        })
        .collect();

    let blob = BlobHash(*blake3::hash(b"humansync fuzz blob").as_bytes());
    let docs = ["app/a", "app/b", "notes/c"]
        .iter()
        .enumerate()
        .map(|(i, id)| sample_doc(id, i, blob))
        .collect();
    Fixture {
        anchor,
        me,
        registered,
        unregistered,
        revoked,
        records,
        revoke_registered,
        revoke_me,
        forged,
        devices_doc,
        devices_doc_plus,
        docs,
        blob,
        base,
    }
}

fn put(am: &mut Automerge, key: &str, value: &str) {
    am.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, key, value)?;
        Ok(())
    })
    .expect("fixture edit");
}

fn sample_doc(id: &str, index: usize, blob: BlobHash) -> SampleDoc {
    let mut am = new_doc(0x10 + index as u8);
    put(&mut am, "_schema_version", "1");
    put(&mut am, "title", id);
    let blobs = if index == 0 {
        put(&mut am, "attachment", &blob.to_reference());
        vec![blob]
    } else {
        Vec::new()
    };
    let mut diverged = am.fork().with_actor(ActorId::from(vec![0x20 + index as u8; 16]));
    put(&mut diverged, "peer-edit", "from a peer");

    let mut sync_messages = Vec::new();
    for peer in [am.fork(), diverged.fork(), new_doc(0x30)] {
        let mut state = sync::State::new();
        if let Some(msg) = peer.generate_sync_message(&mut state) {
            sync_messages.push(msg.encode());
        }
    }
    // A message that carries the diverged change: run the diverged peer against a copy of `am`.
    let (mut peer, mut local) = (diverged.fork(), am.fork());
    let (mut ps, mut ls) = (sync::State::new(), sync::State::new());
    for _ in 0..4 {
        if let Some(msg) = peer.generate_sync_message(&mut ps) {
            let encoded = msg.encode();
            let decoded = sync::Message::decode(&encoded).expect("automerge decodes its own message");
            if !decoded.changes.is_empty() {
                sync_messages.push(encoded);
            }
            let _ = local.receive_sync_message(&mut ls, decoded);
        }
        if let Some(msg) = local.generate_sync_message(&mut ls) {
            let _ = peer.receive_sync_message(&mut ps, msg);
        }
    }
    SampleDoc {
        id: DocId::new(id).expect("fixture id is valid"),
        bytes: am.save(),
        heads: sorted_heads(&am),
        blobs,
        diverged: (diverged.save(), sorted_heads(&diverged)),
        sync_messages,
    }
}
