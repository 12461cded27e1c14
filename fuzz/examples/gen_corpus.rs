//! Writes the seed corpus: valid encodings of every message, record, document and body the
//! targets parse, plus edge cases, under `fuzz/corpus/<target>/seed-*`.
//!
//! ```text
//! cd fuzz && cargo run --example gen_corpus
//! ```
//! Deterministic: the same files every time. Regression inputs (`regression-*`) are added by
//! hand and never touched here.

use std::fs;
use std::path::{Path, PathBuf};

use automerge::transaction::Transactable;
use automerge::{ActorId, ObjType, ROOT};
use humansync_fuzz::fixture::{fixture, new_doc};
use humansync_protocol::http::{
    DeviceInfo, DevicesResponse, ErrorBody, ErrorDetail, HealthResponse, PairRequest, PairResponse,
    RevokeResponse, SignedAuth,
};
use humansync_protocol::{
    BlobHash, Bound, ChangeHash, CloseCode, DeviceId, DocDigest, DocId, Fingerprint, Item, Message,
    RangeEntry, RangeMode, SetSummary, encode_frame,
};
use humansync_sansio::recon::{DocSet, initiate};

type Seeds = Vec<(String, Vec<u8>)>;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let messages = messages();
    #[cfg_attr(not(feature = "runtime"), allow(unused_mut))]
    let mut all: Vec<(&str, Seeds)> = vec![
        ("frame", frame_seeds(&messages)),
        ("message", message_seeds(&messages)),
        ("registry_record", record_seeds()),
        ("registry_doc", registry_doc_seeds()),
        ("pairing_json", json_seeds()),
        ("text_ids", text_seeds()),
        ("recon", recon_seeds(&messages)),
        ("core_session", noise_seeds(0xc0, &[16, 64, 256, 1024, 4096])),
        ("pairing_guard", noise_seeds(0x9a, &[16, 128, 1024, 4096])),
        ("simulation", noise_seeds(0x51, &[12, 24, 48, 64])),
        ("automerge_bytes", automerge_bytes_seeds()),
    ];
    #[cfg(feature = "runtime")]
    all.push((
        "sealed_blob_files",
        humansync::transport::sealed_blobs::fuzzing::seeds().map_err(std::io::Error::other)?,
    ));
    let mut total = 0;
    for (target, seeds) in all {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        clear_seeds(&dir)?;
        for (name, bytes) in seeds {
            total += bytes.len();
            fs::write(dir.join(format!("seed-{name}")), bytes)?;
        }
    }
    println!("wrote {total} bytes of seeds under {}", root.display());
    Ok(())
}

/// The inputs of conformance/vectors/automerge_bytes.json (HS-SYNC-12): mode 0 for saved bytes,
/// 2 for sync messages, and the valid saved ones again as mode 1 (merged into a document).
fn automerge_bytes_seeds() -> Seeds {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/automerge_bytes.json");
    let text = fs::read_to_string(&path).expect("the automerge_bytes vectors");
    let file: serde_json::Value = serde_json::from_str(&text).expect("vector JSON");
    let mut out = Seeds::new();
    for case in file["cases"].as_array().expect("cases") {
        let hex = case["input"].as_str().expect("input");
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
            .collect();
        let id = case["id"].as_str().expect("id");
        let saved = case["kind"] == "automerge_saved";
        let mode = if saved { 0u8 } else { 2 };
        out.push((id.to_owned(), [&[mode][..], &bytes].concat()));
        if saved && case["result"] == "valid" {
            out.push((format!("{id}-merged"), [&[1u8][..], &bytes].concat()));
        }
    }
    out
}

fn clear_seeds(dir: &PathBuf) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("seed-"))
        {
            fs::remove_file(path)?;
        }
    }
    Ok(())
}

fn id(text: &str) -> DocId {
    DocId::new(text).expect("seed ids are valid")
}

/// One sample of every message variant (SPEC.md §9), some at their limits.
fn messages() -> Vec<(&'static str, Message)> {
    let fx = fixture();
    let sample = &fx.docs[0];
    let set: DocSet = (0..40)
        .map(|i| (id(&format!("d/{i:04}")), DocDigest([i as u8; 16])))
        .collect();
    let small: DocSet = fx
        .docs
        .iter()
        .map(|d| (d.id.clone(), DocDigest([7; 16])))
        .collect();
    let summary = SetSummary {
        count: 3,
        fingerprint: Fingerprint([5; 16]),
    };
    vec![
        (
            "hello",
            Message::Hello {
                versions: vec![1],
                set: summary,
                devices: DocDigest([1; 16]),
            },
        ),
        (
            "hello-8-versions",
            Message::Hello {
                versions: (1..=8).collect(),
                set: summary,
                devices: DocDigest::default(),
            },
        ),
        (
            "welcome",
            Message::Welcome {
                version: 1,
                set: summary,
                devices: DocDigest([2; 16]),
            },
        ),
        (
            "reconcile-split",
            Message::Reconcile {
                ranges: initiate(&set),
            },
        ),
        (
            "reconcile-items",
            Message::Reconcile {
                ranges: initiate(&small),
            },
        ),
        (
            "reconcile-mixed",
            Message::Reconcile {
                ranges: vec![
                    RangeEntry {
                        upper: Bound::Key(b"app/b".to_vec()),
                        mode: RangeMode::Skip,
                    },
                    RangeEntry {
                        upper: Bound::Key(b"n".to_vec()),
                        mode: RangeMode::Items(vec![Item {
                            doc: id("app/b"),
                            digest: DocDigest::TOMBSTONE,
                        }]),
                    },
                    RangeEntry {
                        upper: Bound::End,
                        mode: RangeMode::Fingerprint {
                            count: 1,
                            fingerprint: Fingerprint([9; 16]),
                        },
                    },
                ],
            },
        ),
        (
            "docsync",
            Message::DocSync {
                doc: sample.id.clone(),
                message: sample.sync_messages[0].clone(),
            },
        ),
        (
            "docwhole",
            Message::DocWhole {
                doc: sample.id.clone(),
                heads: sample.heads.clone(),
                blobs: sample.blobs.clone(),
                bytes: sample.bytes.clone(),
            },
        ),
        (
            "docwant",
            Message::DocWant {
                docs: fx
                    .docs
                    .iter()
                    .map(|d| d.id.clone())
                    .chain([DocId::devices()])
                    .collect(),
            },
        ),
        ("docmissing", Message::DocMissing { doc: id("notes/c") }),
        ("docdeleted", Message::DocDeleted { doc: id("app/a") }),
        (
            "docdeleted-devices",
            Message::DocDeleted {
                doc: DocId::devices(),
            },
        ),
        (
            "blobwant",
            Message::BlobWant {
                hashes: vec![fx.blob, BlobHash([0; 32])],
            },
        ),
        (
            "blobhave",
            Message::BlobHave {
                hashes: vec![fx.blob],
            },
        ),
        (
            "close",
            Message::Close {
                code: CloseCode::PROTOCOL,
                reason: "unexpected Hello".into(),
            },
        ),
        (
            "close-long-reason",
            Message::Close {
                code: CloseCode(99),
                reason: "é".repeat(128),
            },
        ),
    ]
}

fn frame_seeds(messages: &[(&str, Message)]) -> Seeds {
    let mut out = Seeds::new();
    let mut stream = Vec::new();
    for (name, msg) in messages {
        let frame = encode_frame(msg).expect("seed messages encode");
        stream.extend_from_slice(&frame);
        if frame.len() < 2048 {
            out.push((name.to_string(), [&[0u8][..], &frame].concat()));
        }
    }
    let short: Vec<u8> = stream.iter().copied().take(3000).collect();
    out.push((
        "stream-chunks-1-3-7".into(),
        [&[3u8, 1, 3, 7][..], &short].concat(),
    ));
    out.push(("stream-bytewise".into(), [&[1u8, 1][..], &short].concat()));
    out.push(("empty-frame".into(), vec![0, 0, 0, 0, 0]));
    out.push(("too-large".into(), vec![0, 0x01, 0, 0, 1, 0]));
    out.push(("max-len-header".into(), vec![0, 0x01, 0, 0, 0, 0]));
    out.push(("truncated".into(), vec![2, 2, 1, 0, 0, 0, 9, 0, 1]));
    out.push(("trailing-byte".into(), vec![0, 0, 0, 0, 2, 10, 0]));
    out
}

fn message_seeds(messages: &[(&str, Message)]) -> Seeds {
    let mut out: Seeds = messages
        .iter()
        .map(|(name, msg)| (name.to_string(), msg.encode().expect("seed messages encode")))
        .collect();
    out.push(("unknown-variant".into(), vec![11]));
    out.push(("private-variant".into(), vec![200, 1]));
    let unsorted = Message::Hello {
        versions: vec![2, 1],
        set: SetSummary {
            count: 0,
            fingerprint: Fingerprint::EMPTY,
        },
        devices: DocDigest::default(),
    };
    out.push((
        "hello-unsorted".into(),
        postcard::to_allocvec(&unsorted).expect("encodes"),
    ));
    out.push(("docmissing-bad-id".into(), vec![6, 3, b'a', b'/', b'/']));
    out.push(("overlong-varint".into(), vec![10, 0x80, 0x00, 0]));
    out
}

fn record_seeds() -> Seeds {
    let fx = fixture();
    let mut out: Seeds = fx
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("record-{i}"), r.encode()))
        .collect();
    out.push(("revoke-registered".into(), fx.revoke_registered.encode()));
    out.push(("forged".into(), fx.forged.encode()));
    out.push(("payload-only".into(), fx.records[0].payload.clone()));
    let mut flipped = fx.records[1].encode();
    if let Some(b) = flipped.last_mut() {
        *b ^= 1;
    }
    out.push(("bad-signature".into(), flipped));
    out
}

fn registry_doc_seeds() -> Seeds {
    let fx = fixture();
    let mut out = vec![("devices".to_string(), [&[0u8][..], &fx.devices_doc].concat())];
    for (i, doc) in fx.devices_doc_plus.iter().enumerate() {
        out.push((format!("devices-plus-{i}"), [&[0u8][..], doc].concat()));
        let base = automerge::Automerge::load(&fx.devices_doc).expect("fixture loads");
        let plus = automerge::Automerge::load(doc).expect("fixture loads");
        let delta = plus.save_after(&base.get_heads());
        out.push((format!("incremental-plus-{i}"), [&[1u8][..], &delta].concat()));
    }
    // Conflicting "records" maps and a non-map value: every value must be read (HS-REG-3).
    let base = automerge::Automerge::load(&fx.devices_doc).expect("fixture loads");
    let mut a = base.fork().with_actor(ActorId::from(vec![0xb1; 16]));
    let mut b = base.fork().with_actor(ActorId::from(vec![0xb2; 16]));
    let _ = a.transact::<_, _, automerge::AutomergeError>(|tx| {
        let map = tx.put_object(ROOT, "records", ObjType::Map)?;
        tx.put(&map, fx.revoke_registered.key(), fx.revoke_registered.encode())?;
        Ok(())
    });
    let _ =
        b.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "records", "not a map").map(|_| ()));
    let _ = a.merge(&mut b);
    out.push(("conflicting-maps".into(), [&[0u8][..], &a.save()].concat()));
    let mut empty = new_doc(0xb3);
    let _ =
        empty.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "anchor", "nobody").map(|_| ()));
    out.push(("no-records".into(), [&[0u8][..], &empty.save()].concat()));
    out
}

fn json_seeds() -> Seeds {
    let fx = fixture();
    let node_id = DeviceId::from(&fx.registered);
    let info = DeviceInfo {
        node_id,
        name: "phone".into(),
        paired_at_ms: 1_700_000_000_000,
        revoked_at_ms: Some(1_700_000_500_000),
        addrs: vec!["192.168.1.2:4433".into()],
    };
    let json = |v: serde_json::Result<Vec<u8>>| v.expect("seed bodies serialise");
    let auth = SignedAuth::sign(&fx.registered, "GET", "/devices", 1_700_000_000_000, [7; 16]);
    vec![
        (
            "pair-request".into(),
            json(serde_json::to_vec(&PairRequest {
                node_id,
                password: "hunter2".into(),
                device_name: " My\u{7} Phone\n".into(),
            })),
        ),
        (
            "pair-response".into(),
            json(serde_json::to_vec(&PairResponse {
                server_node_id: fx.anchor_id(),
                server_addrs: vec!["10.0.0.1:4433".into()],
                relay_url: None,
                devices: vec![info.clone()],
                records: fx.records.iter().map(|r| hex(&r.encode())).collect(),
            })),
        ),
        ("device-info".into(), json(serde_json::to_vec(&info))),
        (
            "devices".into(),
            json(serde_json::to_vec(&DevicesResponse { devices: vec![info] })),
        ),
        (
            "revoke".into(),
            json(serde_json::to_vec(&RevokeResponse {
                node_id,
                revoked_at_ms: 5,
                record: hex(&fx.revoke_registered.encode()),
            })),
        ),
        (
            "health".into(),
            json(serde_json::to_vec(&HealthResponse {
                status: "ok".into(),
                node_id,
                version: "0.1.0".into(),
                api_version: Some(2),
            })),
        ),
        (
            "error".into(),
            json(serde_json::to_vec(&ErrorBody {
                error: ErrorDetail {
                    code: "rate_limited".into(),
                    message: "slow down".into(),
                    record: None,
                },
            })),
        ),
        ("auth-header".into(), auth.to_header().into_bytes()),
        (
            "auth-header-upper".into(),
            auth.to_header()
                .to_uppercase()
                .replace("HUMANSYNC-ED25519 NODE_ID", "HumanSync-Ed25519 node_id")
                .into_bytes(),
        ),
        (
            "name-long-multibyte".into(),
            format!("  {}  ", "é".repeat(40)).into_bytes(),
        ),
        ("name-controls".into(), b"\x00\x1b[31mred\x7f\t".to_vec()),
    ]
}

fn text_seeds() -> Seeds {
    let fx = fixture();
    let device = DeviceId::from(&fx.me).to_string();
    vec![
        ("doc-id".into(), b"humandocs/doc-6f9a".to_vec()),
        ("doc-devices".into(), b"_devices".to_vec()),
        ("doc-reserved".into(), b"_other/x".to_vec()),
        ("doc-dots".into(), b"a/../b".to_vec()),
        ("doc-max".into(), "a".repeat(200).into_bytes()),
        ("device-id".into(), device.clone().into_bytes()),
        ("device-id-upper".into(), device.to_uppercase().into_bytes()),
        ("device-id-not-a-point".into(), "ff".repeat(32).into_bytes()),
        ("blob-ref".into(), fx.blob.to_reference().into_bytes()),
        (
            "blob-ref-upper".into(),
            format!("hsblob:{}", fx.blob.to_string().to_uppercase()).into_bytes(),
        ),
        (
            "change-hash".into(),
            ChangeHash([0xab; 32]).to_string().into_bytes(),
        ),
    ]
}

fn recon_seeds(messages: &[(&str, Message)]) -> Seeds {
    let mut out: Seeds = messages
        .iter()
        .filter(|(_, m)| matches!(m, Message::Reconcile { .. }))
        .map(|(name, m)| {
            (
                name.to_string(),
                [&[1u8][..], &m.encode().expect("seed encodes")].concat(),
            )
        })
        .collect();
    out.extend(
        noise_seeds(0x7e, &[64, 512, 2048])
            .into_iter()
            .map(|(n, b)| (n, [&[0u8][..], &b].concat())),
    );
    out
}

/// Deterministic pseudo-random inputs for the structured targets (xorshift64*).
fn noise_seeds(salt: u64, lengths: &[usize]) -> Seeds {
    let mut state = 0x9e37_79b9_7f4a_7c15 ^ salt;
    lengths
        .iter()
        .map(|&len| {
            let bytes = (0..len)
                .map(|_| {
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
                })
                .collect();
            (format!("noise-{len}"), bytes)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
