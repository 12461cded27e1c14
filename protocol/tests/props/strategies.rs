//! proptest strategies for valid protocol values, each within its limits.

use ed25519_dalek::SigningKey;
use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::string::string_regex;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};

use humansync_protocol::limits::MAX_DOC_ID_LEN;
use humansync_protocol::{
    BlobHash, Bound, ChangeHash, CloseCode, Cursor, DeviceId, DocDigest, DocId, Fingerprint, Item, Message,
    RangeEntry, RangeMode, RegistryRecord, SetSummary,
};

/// The seed used unless `PROPTEST_RNG_SEED` overrides it, so every run is reproducible.
const DEFAULT_SEED: u64 = 0x4875_6d61_6e53_796e; // "HumanSyn"

/// A config running `cases` cases (unless `PROPTEST_CASES` is set) from a fixed
/// seed (unless `PROPTEST_RNG_SEED` is set); failures persist under
/// `tests/proptest-regressions/`.
pub(crate) fn config(cases: u32) -> Config {
    let mut config = Config::with_failure_persistence(FileFailurePersistence::Direct(
        "tests/proptest-regressions/props.txt",
    ));
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(DEFAULT_SEED);
    }
    config
}

fn regex(pattern: &str) -> impl Strategy<Value = String> + use<> {
    string_regex(pattern).expect("test regexes are valid")
}

/// One path segment; the first segment of an id may not start with `_` (HS-DOC-1, HS-DOC-2).
fn segment(first: bool) -> impl Strategy<Value = String> {
    let head = if first { "[A-Za-z0-9~-]" } else { "[A-Za-z0-9_~-]" };
    regex(&format!("{head}[A-Za-z0-9._~-]{{0,15}}"))
}

/// A valid document id text: app ids of 1..=4 segments, system ids, and ids at MAX_DOC_ID_LEN.
pub(crate) fn doc_id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => (segment(true), vec(segment(false), 0..4)).prop_map(|(first, rest)| {
            std::iter::once(first).chain(rest).collect::<Vec<_>>().join("/")
        }),
        1 => Just(DocId::DEVICES.to_owned()),
        1 => Just(DocId::SETTINGS.to_owned()),
        1 => regex(&format!("[a-z][a-z0-9/]{{{}}}[a-z]", MAX_DOC_ID_LEN - 2))
            .prop_filter("no empty segment", |s| !s.contains("//")),
    ]
}

/// A valid [`DocId`] (HS-DOC-1).
pub(crate) fn doc_id() -> impl Strategy<Value = DocId> {
    doc_id_text().prop_map(|s| DocId::new(s).expect("valid by construction"))
}

/// A device id from a random signing key (HS-ID-1).
pub(crate) fn signing_key() -> impl Strategy<Value = SigningKey> {
    any::<[u8; 32]>().prop_map(|seed| SigningKey::from_bytes(&seed))
}

/// A device id from a random signing key (HS-ID-1).
pub(crate) fn device_id() -> impl Strategy<Value = DeviceId> {
    signing_key().prop_map(|key| DeviceId::from(&key))
}

fn digest() -> impl Strategy<Value = DocDigest> {
    prop_oneof![4 => any::<[u8; 16]>().prop_map(DocDigest), 1 => Just(DocDigest::TOMBSTONE)]
}

fn fingerprint() -> impl Strategy<Value = Fingerprint> {
    any::<[u8; 16]>().prop_map(Fingerprint)
}

fn blob_hashes() -> impl Strategy<Value = Vec<BlobHash>> {
    vec(any::<[u8; 32]>().prop_map(BlobHash), 0..5)
}

fn set_summary() -> impl Strategy<Value = SetSummary> {
    (any::<u32>(), fingerprint()).prop_map(|(count, fingerprint)| SetSummary { count, fingerprint })
}

fn range_mode() -> impl Strategy<Value = RangeMode> {
    let item = (doc_id(), digest()).prop_map(|(doc, digest)| Item { doc, digest });
    prop_oneof![
        Just(RangeMode::Skip),
        (any::<u32>(), fingerprint())
            .prop_map(|(count, fingerprint)| RangeMode::Fingerprint { count, fingerprint }),
        vec(item, 0..6).prop_map(RangeMode::Items),
    ]
}

/// Consecutive ranges with strictly ascending Key bounds, the last ending at End (HS-RECON-2).
fn ranges() -> impl Strategy<Value = Vec<RangeEntry>> {
    btree_set(vec(any::<u8>(), 0..12), 0..6).prop_flat_map(|keys| {
        let bounds: Vec<Bound> = keys.into_iter().map(Bound::Key).chain([Bound::End]).collect();
        let n = bounds.len();
        vec(range_mode(), n).prop_map(move |modes| {
            bounds
                .clone()
                .into_iter()
                .zip(modes)
                .map(|(upper, mode)| RangeEntry { upper, mode })
                .collect()
        })
    })
}

/// Any valid message, every variant (HS-MSG-1).
pub(crate) fn message() -> impl Strategy<Value = Message> {
    let bytes = || vec(any::<u8>(), 0..96);
    prop_oneof![
        (btree_set(any::<u16>(), 1..=8), set_summary(), digest()).prop_map(|(v, set, devices)| {
            Message::Hello {
                versions: v.into_iter().collect(),
                set,
                devices,
            }
        }),
        (any::<u16>(), set_summary(), digest()).prop_map(|(version, set, devices)| Message::Welcome {
            version,
            set,
            devices
        }),
        ranges().prop_map(|ranges| Message::Reconcile { ranges }),
        (doc_id(), bytes()).prop_map(|(doc, message)| Message::DocSync { doc, message }),
        (
            doc_id(),
            vec(any::<[u8; 32]>().prop_map(ChangeHash), 0..4),
            blob_hashes(),
            bytes()
        )
            .prop_map(|(doc, heads, blobs, bytes)| Message::DocWhole {
                doc,
                heads,
                blobs,
                bytes
            }),
        vec(doc_id(), 0..6).prop_map(|docs| Message::DocWant { docs }),
        doc_id().prop_map(|doc| Message::DocMissing { doc }),
        doc_id().prop_map(|doc| Message::DocDeleted { doc }),
        blob_hashes().prop_map(|hashes| Message::BlobWant { hashes }),
        blob_hashes().prop_map(|hashes| Message::BlobHave { hashes }),
        // At most 64 chars of at most 4 bytes: within MAX_REASON_LEN.
        (any::<u32>(), regex("\\PC{0,64}")).prop_map(|(code, reason)| Message::Close {
            code: CloseCode(code),
            reason
        }),
        option::of((any::<u64>(), any::<u64>())).prop_map(|c| Message::Resume {
            cursor: c.map(|(epoch, seq)| Cursor { epoch, seq })
        }),
        any::<bool>().prop_map(|complete| Message::Resumed { complete }),
        (doc_id(), bytes()).prop_map(|(doc, bytes)| Message::DocChanges { doc, bytes }),
        (any::<u64>(), any::<u64>(), set_summary()).prop_map(|(epoch, seq, set)| Message::Synced {
            cursor: Cursor { epoch, seq },
            set
        }),
        (any::<u64>(), vec(any::<u64>(), 0..6)).prop_map(|(count, refused)| Message::Held { count, refused }),
    ]
}

/// A valid registry record about a random device (HS-REG-1); names ≤ MAX_DEVICE_NAME_LEN bytes.
pub(crate) fn registry_record() -> impl Strategy<Value = RegistryRecord> {
    prop_oneof![
        (device_id(), regex("\\PC{0,16}"), any::<u64>()).prop_map(|(device, name, paired_at_ms)| {
            RegistryRecord::Device {
                device,
                name,
                paired_at_ms,
            }
        }),
        (device_id(), any::<u64>()).prop_map(|(device, revoked_at_ms)| RegistryRecord::Revoked {
            device,
            revoked_at_ms
        }),
    ]
}
