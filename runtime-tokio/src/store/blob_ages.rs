//! The blob ages file: since when each unreferenced blob held here has been unreferenced
//! (HS-BLOB-4), so that a restart neither resets nor shortens its grace period.
//!
//! `MAGIC`, then one record (checksummed, record.rs) per blob: the 32-byte BlobHash and the
//! wall-clock time (unix milliseconds, little-endian) it became unreferenced. Replaced whole
//! (written to `tmp/`, synced, renamed, directory synced). A missing or damaged file means no
//! ages: every unreferenced blob starts a full grace period again, which deletes nothing early.

use humansync_protocol::BlobHash;

use super::DocStore;
use super::codec::{Malformed, Reader};
use super::durable;
use super::error::StoreError;
use super::seal::{self, Frame, Sealer};

/// The label binding sealed records to this file.
const LABEL: &[u8] = b"blob-ages";

/// The first bytes of the blob ages file (format version 1).
const MAGIC: &[u8; 8] = b"HSAGE\0\0\x01";

/// Record kind of one blob's age.
const AGE: u8 = 0x31;

/// Most entries written or read back; further unreferenced blobs start a full grace period
/// after a restart.
const MAX_AGES: usize = 1 << 20;

pub(crate) fn encode(since: &[(BlobHash, u64)], sealer: Option<&Sealer>) -> Vec<u8> {
    let (mut out, salt) = seal::header(sealer, MAGIC);
    let frame = Frame::new(sealer, LABEL, salt, 0);
    for (hash, ms) in since.iter().take(MAX_AGES) {
        let _ = frame.push(&mut out, AGE, &[&hash.0, &ms.to_le_bytes()]);
    }
    out
}

fn decode(bytes: &[u8], sealer: Option<&Sealer>) -> Result<Vec<(BlobHash, u64)>, String> {
    let (salt, start) = seal::read_header(sealer, MAGIC, bytes)?;
    let mut out = Vec::new();
    for r in Frame::new(sealer, LABEL, salt, 0).iter(bytes, start) {
        let (kind, payload) = r.map_err(|bad| bad.to_string())?;
        if kind != AGE || out.len() >= MAX_AGES {
            return Err("unexpected record".to_owned());
        }
        out.push(age(&mut Reader::new(&payload)).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn age(r: &mut Reader<'_>) -> Result<(BlobHash, u64), Malformed> {
    let hash = BlobHash(r.array32()?);
    let since = r.u64()?;
    r.finish()?;
    Ok((hash, since))
}

/// The wall clock in unix milliseconds (0 before 1970).
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl DocStore {
    /// The ages at wall time `now_ms` of the blobs saved as unreferenced, for
    /// [`humansync_sansio::Startup::blob_ages`]: the time the node was down counts. A time in
    /// the future (the clock went back) counts as age 0, so the grace period starts again and
    /// nothing is deleted early.
    pub fn blob_ages(&self, now_ms: u64) -> Vec<(BlobHash, u64)> {
        self.blob_unreferenced_since()
            .into_iter()
            .map(|(hash, since)| (hash, now_ms.saturating_sub(since)))
            .collect()
    }

    /// Since when (unix ms) each unreferenced blob has been unreferenced, as last saved; none if
    /// the file is missing or damaged.
    pub fn blob_unreferenced_since(&self) -> Vec<(BlobHash, u64)> {
        let path = &self.layout.blob_ages;
        durable::read_side_file(
            path,
            |b| decode(b, self.sealer()),
            "blob ages unreadable; grace periods start again",
        )
    }

    /// Durably replaces the saved times (unix ms) since which blobs have been unreferenced.
    pub fn save_blob_unreferenced_since(&mut self, since: &[(BlobHash, u64)]) -> Result<(), StoreError> {
        let layout = &self.layout;
        let bytes = encode(since, self.sealer());
        durable::replace_side_file(
            &layout.blob_ages_tmp(),
            &layout.blob_ages,
            &layout.root,
            &bytes,
            &self.stats,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_every_truncation_refused() {
        let ages = vec![
            (BlobHash([1; 32]), 1_700_000_000_000),
            (BlobHash([2; 32]), u64::MAX),
        ];
        let bytes = encode(&ages, None);
        assert_eq!(decode(&bytes, None).unwrap(), ages);
        assert_eq!(decode(&encode(&[], None), None).unwrap(), Vec::new());
        for cut in 0..bytes.len() {
            // A cut at a record boundary is a shorter valid file; anything else is refused.
            if let Ok(read) = decode(&bytes[..cut], None) {
                assert!(read.len() < ages.len() && ages.starts_with(&read), "cut at {cut}");
            }
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(decode(&flipped, None).is_err());
    }
}
