//! Document digests and item fingerprints for set reconciliation (HS-RECON-1, HS-RECON-2),
//! computed exactly as HS-RECON-12 defines them.

use crate::{ChangeHash, DocDigest, DocId, Fingerprint};

/// Domain separation for [`heads_digest`].
pub const HEADS_DIGEST_CONTEXT: &[u8] = b"humansync/heads/v1\0";
/// Domain separation for [`item_fingerprint`].
pub const ITEM_FINGERPRINT_CONTEXT: &[u8] = b"humansync/item/v1\0";

/// The digest of a live document: BLAKE3 over the context and its heads sorted bytewise, truncated to 16 bytes.
///
/// Never equals [`DocDigest::TOMBSTONE`] (the one-in-2^128 collision is remapped).
///
/// Heads already strictly ascending (as index rows keep them) are hashed as they are; others are
/// sorted into a copy first. Reconciliation derives a digest from each row it lists, so the usual
/// case allocates nothing.
pub fn heads_digest(heads: &[ChangeHash]) -> DocDigest {
    let sorted: Vec<ChangeHash>;
    let heads = if heads.is_sorted_by(|a, b| a < b) {
        heads
    } else {
        let mut copy = heads.to_vec();
        copy.sort_unstable();
        copy.dedup();
        sorted = copy;
        &sorted
    };
    let mut hasher = blake3::Hasher::new();
    hasher.update(HEADS_DIGEST_CONTEXT);
    for head in heads {
        hasher.update(head.as_bytes());
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    if out == DocDigest::TOMBSTONE.0 {
        out[15] = 0xfe;
    }
    DocDigest(out)
}

/// The fingerprint of one (id, digest) item: BLAKE3(context || len(id) as u8 || id || digest)[..16].
pub fn item_fingerprint(id: &DocId, digest: &DocDigest) -> Fingerprint {
    let mut hasher = blake3::Hasher::new();
    hasher.update(ITEM_FINGERPRINT_CONTEXT);
    // A DocId is at most MAX_DOC_ID_LEN (200) bytes, so its length fits in one byte.
    hasher.update(&[id.as_str().len() as u8]);
    hasher.update(id.as_str().as_bytes());
    hasher.update(digest.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    Fingerprint(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_order_and_repeats_do_not_matter() {
        let a = ChangeHash([1; 32]);
        let b = ChangeHash([2; 32]);
        assert_eq!(heads_digest(&[a, b]), heads_digest(&[b, a]));
        assert_eq!(heads_digest(&[a, b]), heads_digest(&[a, b, a]));
        assert_eq!(heads_digest(&[a, b]), heads_digest(&[a, a, b]));
        assert_ne!(heads_digest(&[a]), heads_digest(&[b]));
        assert!(!heads_digest(&[]).is_tombstone());
    }
}
