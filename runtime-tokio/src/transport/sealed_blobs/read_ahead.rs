//! Reading an entry for an export: runs of consecutive groups read with one `pread` and opened
//! where they lie, handed out as slices (HS-REST-6).
//!
//! A verified bao stream asks for one 16 KiB leaf at a time; reading each group on its own cost
//! a system call and a buffer per leaf. A [`ReadAhead`] reads up to [`READ_AHEAD`] groups at
//! once, never past the end of the requested range the first one lies in, so a resumed fetch
//! that asks for a few groups opens only those.

use std::sync::{Arc, Mutex};

use bao_tree::ChunkRanges;
use bytes::Bytes;
use range_collections::range_set::RangeSetRange;

use super::entry::Entry;
use super::error::SealedBlobError;
use super::groups::{self, GROUP_LEN};

/// Groups read at once (1 MiB of plaintext).
pub(crate) const READ_AHEAD: u64 = 64;
/// BLAKE3 chunks per group.
const CHUNKS_PER_GROUP: u64 = GROUP_LEN / 1024;

/// Groups `first ..` of the last run read.
#[derive(Debug, Default)]
struct Run {
    first: u64,
    groups: Vec<Bytes>,
}

impl Run {
    fn get(&self, index: u64) -> Option<&Bytes> {
        let i = usize::try_from(index.checked_sub(self.first)?).ok()?;
        self.groups.get(i)
    }
}

/// An entry read for one export of `ranges`.
#[derive(Debug)]
pub(crate) struct ReadAhead {
    entry: Arc<Entry>,
    ranges: ChunkRanges,
    run: Mutex<Run>,
}

impl ReadAhead {
    /// A reader of `entry` for an export of the chunk `ranges`.
    pub(crate) fn new(entry: Arc<Entry>, ranges: ChunkRanges) -> ReadAhead {
        ReadAhead {
            entry,
            ranges,
            run: Mutex::new(Run::default()),
        }
    }

    /// The entry read.
    pub(crate) fn entry(&self) -> &Entry {
        &self.entry
    }

    /// How many groups a run from `first` may read: up to the end of the requested range that
    /// holds `first` (at least one).
    fn run_max(&self, first: u64) -> u64 {
        let chunk = first.saturating_mul(CHUNKS_PER_GROUP);
        let end = self.ranges.iter().find_map(|range| match range {
            RangeSetRange::Range(r) if r.start.0 <= chunk && chunk < r.end.0 => {
                Some(r.end.0.div_ceil(CHUNKS_PER_GROUP))
            }
            RangeSetRange::RangeFrom(r) if r.start.0 <= chunk => Some(u64::MAX),
            _ => None,
        });
        end.map_or(1, |end| (end - first).clamp(1, READ_AHEAD))
    }

    /// Group `index`, opened (from the current run, else from a new one).
    pub(crate) fn group(&self, index: u64) -> Result<Bytes, SealedBlobError> {
        // A panic while holding the lock leaves at worst a stale run of opened groups.
        let mut run = self.run.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(group) = run.get(index) {
            return Ok(group.clone());
        }
        let groups = self.entry.read_run(index, self.run_max(index))?;
        *run = Run { first: index, groups };
        run.get(index).cloned().ok_or_else(|| {
            SealedBlobError::malformed(self.entry.data_path(), format!("chunk group {index} not read"))
        })
    }

    /// `len` bytes at `offset`: a slice of one group (every leaf a bao stream reads), else
    /// copied from the groups they span.
    pub(crate) fn read_bytes(&self, offset: u64, len: usize) -> Result<Bytes, SealedBlobError> {
        let end = offset.saturating_add(len as u64);
        let span = groups::of_bytes(offset, end);
        if span.end == span.start + 1 {
            let group = self.group(span.start)?;
            let from = (offset - span.start * GROUP_LEN) as usize;
            return Ok(group.slice(from.min(group.len())..from.saturating_add(len).min(group.len())));
        }
        let mut out = Vec::with_capacity(len.min(READ_AHEAD as usize * GROUP_LEN as usize));
        for index in span {
            let group = self.group(index)?;
            let start = index * GROUP_LEN;
            let from = offset.saturating_sub(start) as usize;
            let to = ((end - start) as usize).min(group.len());
            out.extend_from_slice(group.get(from..to).unwrap_or_default());
        }
        Ok(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DataKey;
    use crate::transport::sealed_blobs::cipher::BlobCipher;
    use bao_tree::ChunkNum;

    /// A run never reads past the requested range it starts in, nor more than READ_AHEAD.
    #[test]
    fn runs_stay_within_the_requested_range() {
        let cipher = Arc::new(BlobCipher::new(&DataKey::from_bytes([5; 32])).expect("cipher"));
        let entry = Entry::empty(iroh_blobs::Hash::new(b"r"), "unused".into(), cipher);
        let ranges =
            ChunkRanges::from(ChunkNum(16)..ChunkNum(16 * 4 + 3)) | ChunkRanges::from(ChunkNum(16 * 100)..);
        let reader = ReadAhead::new(entry, ranges);
        assert_eq!(reader.run_max(1), 4, "groups 1..5 (the last partly requested)");
        assert_eq!(reader.run_max(3), 2);
        assert_eq!(reader.run_max(50), 1, "outside every range: one group");
        assert_eq!(reader.run_max(100), READ_AHEAD, "open-ended range");
    }
}
