//! The change graph of change chunks, read without Automerge: each change's hash and the
//! changes it depends on (issue 22 §1).
//!
//! A change's hash is the SHA-256 of its chunk's type byte, length as written and data (the
//! chunk checksum is its first four bytes); its data starts with its dependencies, a count and
//! that many 32-byte hashes. That is enough to tell whether changes build on a stored
//! document's heads alone — so that they can be appended to it without parsing it — and which
//! heads the document has after them.

use humansync_protocol::ChangeHash;
use sha2::{Digest, Sha256};

use super::reader::Reader;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHANGE: u8 = 1;

/// One change chunk: its hash and its dependencies.
struct Link {
    hash: ChangeHash,
    deps: Vec<ChangeHash>,
}

/// The links of `bytes` when they are only uncompressed change chunks; `None` otherwise (a
/// document, bundle or compressed chunk, or anything malformed: the caller checks the bytes
/// within the bounds first, and falls back to a parse).
fn links(bytes: &[u8]) -> Option<Vec<Link>> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let start = r.at();
        (r.take(4).ok()? == MAGIC).then_some(())?;
        r.take(4).ok()?; // checksum (checked by the bounds walk)
        (r.u8().ok()? == CHANGE).then_some(())?;
        let len = r.uleb().ok()?;
        let data = r.take(len).ok()?;
        let hash = ChangeHash(Sha256::digest(&bytes[start + 8..r.at()]).into());
        let mut d = Reader::new(data);
        let count = d.uleb().ok()?;
        // Each dependency is 32 bytes of the chunk: the count is bounded by the data.
        let count = usize::try_from(count).ok().filter(|c| *c <= data.len() / 32)?;
        let mut deps = Vec::with_capacity(count);
        for _ in 0..count {
            deps.push(ChangeHash(d.take(32).ok()?.try_into().ok()?));
        }
        out.push(Link { hash, deps });
    }
    Some(out)
}

/// The heads a document at `heads` has once the change chunks `bytes` are applied, when they
/// build on `heads` alone: every change depends on at least one change, each dependency is one
/// of `heads` or an earlier change of `bytes`, and no change comes twice. Then every change is
/// new to the document (it descends from one of its heads) and Automerge applies each in order.
/// `None` when that is not known without the document. Sorted bytewise.
pub(super) fn heads_after(bytes: &[u8], heads: &[ChangeHash]) -> Option<Vec<ChangeHash>> {
    let links = links(bytes)?;
    let mut known: std::collections::BTreeSet<ChangeHash> = heads.iter().copied().collect();
    let mut result: std::collections::BTreeSet<ChangeHash> = known.clone();
    for link in &links {
        if link.deps.is_empty() || !link.deps.iter().all(|d| known.contains(d)) {
            return None;
        }
        if !known.insert(link.hash) {
            return None;
        }
        for dep in &link.deps {
            result.remove(dep);
        }
        result.insert(link.hash);
    }
    (!links.is_empty()).then(|| result.into_iter().collect())
}
