//! The last-seen file: when this node last had an open session with each peer, so that a
//! devices list can say "last seen 3 days ago" after a restart.
//!
//! Its format is stamps.rs' (magic `HSSEEN`): per peer, its 32-byte device id and the wall-clock
//! time (unix milliseconds) a session with it was last open. Replaced whole (written to `tmp/`,
//! synced, renamed, directory synced). A missing or damaged file, or a key that is not a device
//! id, means "never seen" for those peers: nothing else depends on it.

use humansync_protocol::DeviceId;

use super::DocStore;
use super::durable;
use super::error::StoreError;
use super::seal::Sealer;
use super::stamps::StampFile;

/// The last-seen file: magic `HSSEEN` format version 1, one record of kind 0x51 per peer.
const FILE: StampFile = StampFile {
    magic: b"HSSEEN\0\x01",
    kind: 0x51,
    label: b"last-seen",
};

/// The file's bytes for `seen`, sealed with `sealer`.
pub(crate) fn encode(seen: &[(DeviceId, u64)], sealer: Option<&Sealer>) -> Vec<u8> {
    let stamps: Vec<([u8; 32], u64)> = seen.iter().map(|(d, ms)| (*d.as_bytes(), *ms)).collect();
    FILE.encode(&stamps, sealer)
}

impl DocStore {
    /// When (unix ms) a session with each peer was last open, as last saved; empty if the file
    /// is missing or damaged.
    pub fn last_seen(&self) -> Vec<(DeviceId, u64)> {
        let decode = |bytes: &[u8]| {
            Ok(FILE
                .decode(bytes, self.sealer())?
                .into_iter()
                .filter_map(|(key, ms)| DeviceId::from_bytes(key).ok().map(|d| (d, ms)))
                .collect())
        };
        durable::read_side_file(
            &self.layout.last_seen,
            decode,
            "last-seen file unreadable; peers show as never seen",
        )
    }

    /// Durably replaces the saved last-seen times (unix ms).
    pub fn save_last_seen(&mut self, seen: &[(DeviceId, u64)]) -> Result<(), StoreError> {
        let layout = &self.layout;
        durable::replace_side_file(
            &layout.last_seen_tmp(),
            &layout.last_seen,
            &layout.root,
            &encode(seen, self.sealer()),
            &self.stats,
        )
    }
}
