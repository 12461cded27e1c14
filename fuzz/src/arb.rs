//! Structured generators over [`arbitrary::Unstructured`]: document ids, digests, document
//! sets and Reconcile ranges that are valid most of the time and broken some of the time.

use arbitrary::{Result, Unstructured};
use humansync_protocol::limits::{MAX_DOC_ID_LEN, MAX_RECON_RANGES};
use humansync_protocol::{
    Bound, DocDigest, DocId, Fingerprint, Item, Message, RangeEntry, RangeMode, frame_payload,
};
use humansync_sansio::recon::DocSet;

/// Characters of generated id segments: few, so that generated ids collide and share prefixes.
const ALPHABET: &[u8] = b"ab0z-~_";

/// A valid document id from a small space (ids collide often), or a long one.
pub fn doc_id(u: &mut Unstructured<'_>) -> Result<DocId> {
    let text = match u.int_in_range(0u8..=9)? {
        0 => format!("d/{:04}", u.int_in_range(0u16..=999)?),
        1 => ["_devices", "_settings", "app/a", "app/b", "notes/c"][u.choose_index(5)?].to_owned(),
        2 => {
            let len = u.int_in_range(1..=MAX_DOC_ID_LEN)?;
            let c = ALPHABET[u.choose_index(4)?] as char;
            std::iter::repeat_n(c, len).collect()
        }
        _ => {
            let segments = u.int_in_range(1u8..=3)?;
            let mut out = String::new();
            for s in 0..segments {
                if s > 0 {
                    out.push('/');
                }
                for _ in 0..u.int_in_range(1u8..=3)? {
                    out.push(ALPHABET[u.choose_index(ALPHABET.len())?] as char);
                }
            }
            out
        }
    };
    // Ids built above can still be invalid (a `_` first segment other than a system id): map those.
    Ok(DocId::new(text.clone())
        .unwrap_or_else(|_| DocId::new(format!("x{text}")).unwrap_or_else(|_| fallback_id())))
}

fn fallback_id() -> DocId {
    DocId::new("x").expect("constant id is valid")
}

/// A digest: one of a few live values (so sets agree often), the tombstone, or arbitrary bytes.
pub fn digest(u: &mut Unstructured<'_>) -> Result<DocDigest> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => DocDigest::TOMBSTONE,
        1 => DocDigest(u.arbitrary()?),
        n => DocDigest([n; 16]),
    })
}

/// A document set of up to `max` items: some sequential ids (enough to force splits), some random.
pub fn doc_set(u: &mut Unstructured<'_>, max: usize) -> Result<DocSet> {
    let mut set = DocSet::new();
    let sequential = u.int_in_range(0..=max)?;
    let start = u.int_in_range(0u16..=400)?;
    for i in 0..sequential {
        let id = DocId::new(format!("d/{:04}", start as usize + i)).unwrap_or_else(|_| fallback_id());
        set.insert(id, digest(u)?);
    }
    for _ in 0..u.int_in_range(0u8..=24)? {
        set.insert(member_id(u)?, digest(u)?);
    }
    Ok(set)
}

/// A document id a node's set can hold: any but `_devices`, which never enters it (HS-RECON-6;
/// a peer that lists it anyway is refused, HS-RECON-11).
fn member_id(u: &mut Unstructured<'_>) -> Result<DocId> {
    let id = doc_id(u)?;
    Ok(if id.is_devices() { fallback_id() } else { id })
}

/// A copy of `set` with some items changed, removed and added (a plausible peer set).
pub fn perturb(u: &mut Unstructured<'_>, set: &DocSet) -> Result<DocSet> {
    let mut out = DocSet::new();
    for (id, d) in set.iter() {
        match u.int_in_range(0u8..=15)? {
            0 => {}
            1 => {
                out.insert(id.clone(), digest(u)?);
            }
            _ => {
                out.insert(id.clone(), d);
            }
        }
    }
    for _ in 0..u.int_in_range(0u8..=8)? {
        out.insert(member_id(u)?, digest(u)?);
    }
    Ok(out)
}

/// An arbitrary bound key (not necessarily a valid id).
fn key(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => u
            .arbitrary::<Vec<u8>>()?
            .into_iter()
            .take(MAX_DOC_ID_LEN + 2)
            .collect(),
        _ => doc_id(u)?.as_str().as_bytes()[..].to_vec(),
    })
}

/// Reconcile ranges shaped like a peer's: mostly ascending bounds ending at End, with Skip,
/// Fingerprint (often matching `set`) and Items (often from `set`) modes; sometimes broken.
pub fn ranges(u: &mut Unstructured<'_>, set: &DocSet) -> Result<Vec<RangeEntry>> {
    let n = if u.ratio(1u8, 16)? {
        u.int_in_range(0..=MAX_RECON_RANGES + 2)?
    } else {
        u.int_in_range(1..=20)?
    };
    let mut keys: Vec<Vec<u8>> = (0..n.saturating_sub(1)).map(|_| key(u)).collect::<Result<_>>()?;
    if !u.ratio(1u8, 16)? {
        keys.sort();
        keys.dedup();
        keys.retain(|k| !k.is_empty());
    }
    let mut bounds: Vec<Bound> = keys.into_iter().map(Bound::Key).collect();
    if n > 0 && !u.ratio(1u8, 32)? {
        bounds.push(Bound::End);
    }
    let mut out = Vec::with_capacity(bounds.len());
    let mut lower: Vec<u8> = Vec::new();
    for upper in bounds {
        let mode = match u.int_in_range(0u8..=5)? {
            0 => RangeMode::Skip,
            1 => RangeMode::Fingerprint {
                count: u.int_in_range(0u32..=40)?,
                fingerprint: if u.arbitrary()? {
                    Fingerprint(u.arbitrary()?)
                } else {
                    Fingerprint::EMPTY
                },
            },
            2 | 3 => {
                let (count, fingerprint) = set.range_summary(&lower, &upper);
                RangeMode::Fingerprint { count, fingerprint }
            }
            _ => RangeMode::Items(items(u, set, &lower, &upper)?),
        };
        if let Bound::Key(k) = &upper {
            lower = k.clone();
        }
        out.push(RangeEntry { upper, mode });
    }
    Ok(out)
}

/// Items for `[lower, upper)`: `set`'s own items there, perturbed, sorted (mostly).
fn items(u: &mut Unstructured<'_>, set: &DocSet, lower: &[u8], upper: &Bound) -> Result<Vec<Item>> {
    let mut out: Vec<Item> = Vec::new();
    for (doc, d) in set.iter() {
        let id = doc.as_str().as_bytes();
        let below_upper = match upper {
            Bound::End => true,
            Bound::Key(k) => id < k.as_slice(),
        };
        let inside = id >= lower && below_upper;
        if !inside || u.ratio(1u8, 8)? {
            continue;
        }
        let digest = if u.ratio(1u8, 4)? { digest(u)? } else { d };
        out.push(Item {
            doc: doc.clone(),
            digest,
        });
    }
    for _ in 0..u.int_in_range(0u8..=3)? {
        out.push(Item {
            doc: doc_id(u)?,
            digest: digest(u)?,
        });
    }
    if !u.ratio(1u8, 16)? {
        out.sort_by(|a, b| a.doc.cmp(&b.doc));
        out.dedup_by(|a, b| a.doc == b.doc);
    }
    Ok(out)
}

/// Encodes `msg` as a frame payload: with [`Message::encode`] when it is within the rules,
/// else raw postcard (so that receivers see rule-breaking messages too).
pub fn encode_lenient(msg: &Message) -> Vec<u8> {
    msg.encode()
        .ok()
        .or_else(|| postcard::to_allocvec(msg).ok())
        .unwrap_or_default()
}

/// `msg` framed (HS-FRAME-1), leniently encoded.
pub fn frame_lenient(msg: &Message) -> Vec<u8> {
    frame_payload(&encode_lenient(msg)).unwrap_or_default()
}
