//! The blob ages file: since when each unreferenced blob held here has been unreferenced
//! (HS-BLOB-4), so that a restart neither resets nor shortens its grace period.
//!
//! Its format is stamps.rs' (magic `HSAGE`): per blob, its 32-byte BlobHash and the wall-clock
//! time (unix milliseconds) it became unreferenced. Replaced whole
//! (written to `tmp/`, synced, renamed, directory synced). A missing or damaged file means no
//! ages: every unreferenced blob starts a full grace period again, which deletes nothing early.

use humansync_protocol::BlobHash;

use super::DocStore;
use super::durable;
use super::error::StoreError;
use super::seal::Sealer;
use super::stamps::StampFile;

/// The blob ages file: magic `HSAGE` format version 1, one record of kind 0x31 per blob.
const FILE: StampFile = StampFile {
    magic: b"HSAGE\0\0\x01",
    kind: 0x31,
    label: b"blob-ages",
};

pub(crate) fn encode(since: &[(BlobHash, u64)], sealer: Option<&Sealer>) -> Vec<u8> {
    let stamps: Vec<([u8; 32], u64)> = since.iter().map(|(h, ms)| (h.0, *ms)).collect();
    FILE.encode(&stamps, sealer)
}

fn decode(bytes: &[u8], sealer: Option<&Sealer>) -> Result<Vec<(BlobHash, u64)>, String> {
    Ok(FILE
        .decode(bytes, sealer)?
        .into_iter()
        .map(|(h, ms)| (BlobHash(h), ms))
        .collect())
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
