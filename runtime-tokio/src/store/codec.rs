//! Payload encodings: document ids, index rows, sync states. Fixed little-endian layouts, each
//! length checked before anything is allocated.

use humansync_protocol::{BlobHash, ChangeHash, DeviceId, DocId};
use humansync_sansio::DocMeta;

/// A payload that passed its checksum but does not decode: the writer was not this code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed payload: {0}")]
pub(crate) struct Malformed(pub(crate) &'static str);

/// A cursor over a payload.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.bytes.len() {
            return Err(Malformed("payload too short"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    /// Fails unless everything was read.
    pub(crate) fn finish(&self) -> Result<(), Malformed> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Malformed("trailing bytes"))
        }
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    /// A little-endian u32.
    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        let mut out = [0u8; 4];
        out.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(out))
    }

    /// A little-endian u64.
    pub(crate) fn u64(&mut self) -> Result<u64, Malformed> {
        let mut out = [0u8; 8];
        out.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(out))
    }

    /// 32 raw bytes.
    pub(crate) fn array32(&mut self) -> Result<[u8; 32], Malformed> {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.take(32)?);
        Ok(out)
    }
}

/// Appends a document id: one length byte, then the id (at most 200 bytes, HS-DOC-1).
pub(crate) fn put_doc_id(out: &mut Vec<u8>, doc: &DocId) {
    let id = doc.as_str().as_bytes();
    // A valid DocId is at most MAX_DOC_ID_LEN (200) bytes, so the length fits in one byte.
    out.push(id.len() as u8);
    out.extend_from_slice(id);
}

/// Reads a document id written by [`put_doc_id`], validating it again (HS-DOC-1).
pub(crate) fn doc_id(r: &mut Reader<'_>) -> Result<DocId, Malformed> {
    let len = r.u8()? as usize;
    let text = std::str::from_utf8(r.take(len)?).map_err(|_| Malformed("document id is not UTF-8"))?;
    DocId::new(text).map_err(|_| Malformed("invalid document id"))
}

/// Appends an index row: head count, heads, blob count, blobs, tombstone flag.
pub(crate) fn put_meta(out: &mut Vec<u8>, meta: &DocMeta) {
    put_hashes(out, meta.heads.iter().map(|h| &h.0));
    put_hashes(out, meta.blobs.iter().map(|h| &h.0));
    out.push(u8::from(meta.tombstone));
}

/// Reads an index row written by [`put_meta`].
pub(crate) fn meta(r: &mut Reader<'_>) -> Result<DocMeta, Malformed> {
    let heads = hashes(r)?.into_iter().map(ChangeHash).collect();
    let blobs = hashes(r)?.into_iter().map(BlobHash).collect();
    let tombstone = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(Malformed("tombstone flag")),
    };
    Ok(DocMeta {
        heads,
        blobs,
        tombstone,
    })
}

fn put_hashes<'a>(out: &mut Vec<u8>, hashes: impl ExactSizeIterator<Item = &'a [u8; 32]>) {
    // Counts are bounded by the protocol (MAX_HEADS, MAX_BLOB_REFS), far below u32::MAX.
    out.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
    for hash in hashes {
        out.extend_from_slice(hash);
    }
}

fn hashes(r: &mut Reader<'_>) -> Result<Vec<[u8; 32]>, Malformed> {
    let count = r.u32()? as usize;
    let bytes = r.take(count.checked_mul(32).ok_or(Malformed("hash count"))?)?;
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Reads a persisted sync state: the 32-byte peer id, then the state bytes.
pub(crate) fn sync_state(payload: &[u8]) -> Result<(DeviceId, &[u8]), Malformed> {
    let mut r = Reader::new(payload);
    let peer = DeviceId::from_bytes(r.array32()?).map_err(|_| Malformed("peer id is not a key"))?;
    Ok((peer, r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_roundtrip() {
        let meta = DocMeta {
            heads: humansync_sansio::Heads::from_slice(&[ChangeHash([1; 32]), ChangeHash([2; 32])]),
            blobs: vec![BlobHash([3; 32])].into(),
            tombstone: false,
        };
        let mut out = Vec::new();
        put_meta(&mut out, &meta);
        assert_eq!(out.len(), 4 + 64 + 4 + 32 + 1);
        let mut r = Reader::new(&out);
        assert_eq!(super::meta(&mut r).unwrap(), meta);
        r.finish().unwrap();
    }

    #[test]
    fn short_and_invalid_inputs_are_errors() {
        let mut out = Vec::new();
        put_meta(&mut out, &DocMeta::default());
        for cut in 0..out.len() {
            assert!(super::meta(&mut Reader::new(&out[..cut])).is_err());
        }
        let huge = [0xff, 0xff, 0xff, 0xff];
        assert!(super::meta(&mut Reader::new(&huge)).is_err());
        assert!(doc_id(&mut Reader::new(b"\x02..")).is_err());
    }
}
