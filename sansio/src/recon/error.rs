//! Peer faults found in a received Reconcile message.

use humansync_protocol::CloseCode;

/// A received Reconcile breaks HS-RECON-2, HS-RECON-5 or HS-RECON-11. Every variant is a
/// peer fault; the session closes with [`ReconError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconError {
    /// The message carries no range (HS-RECON-2).
    #[error("Reconcile carries no range")]
    NoRanges,
    /// More than `MAX_RECON_RANGES` ranges (HS-RECON-5).
    #[error("Reconcile carries {0} ranges, over MAX_RECON_RANGES")]
    TooManyRanges(usize),
    /// More than `MAX_RECON_ITEMS` items summed over all ranges (HS-RECON-5).
    #[error("Reconcile carries {0} items, over MAX_RECON_ITEMS")]
    TooManyItems(usize),
    /// The last range does not end at `Bound::End` (HS-RECON-2).
    #[error("the last range does not end at Bound::End")]
    LastNotEnd,
    /// Range `index`'s upper bound is not strictly above its lower bound
    /// (the previous upper bound, or the empty key for the first) (HS-RECON-2).
    #[error("range {index} is empty or its bound is not ascending")]
    NotAscending {
        /// Position of the offending range.
        index: usize,
    },
    /// An Items range lists an id outside `[lower, upper)` (HS-RECON-11).
    #[error("range {index} lists an item outside its bounds")]
    ItemOutOfRange {
        /// Position of the offending range.
        index: usize,
    },
    /// An Items range lists its ids out of order or twice (they must be strictly ascending, HS-RECON-11).
    #[error("range {index} lists items not strictly ascending")]
    ItemsNotAscending {
        /// Position of the offending range.
        index: usize,
    },
    /// An Items range lists `_devices`, which is never in the document set (HS-RECON-6, HS-RECON-11).
    #[error("range {index} lists _devices as an item")]
    DevicesItem {
        /// Position of the offending range.
        index: usize,
    },
}

impl ReconError {
    /// The close code for this fault: faults of the range list's shape map to
    /// `MALFORMED`, as `Message::decode` reports them (it checks all of them but
    /// an empty first range); misplaced or unordered items are `PROTOCOL` (HS-RECON-11).
    pub fn close_code(&self) -> CloseCode {
        match self {
            ReconError::NoRanges
            | ReconError::TooManyRanges(_)
            | ReconError::TooManyItems(_)
            | ReconError::LastNotEnd
            | ReconError::NotAscending { .. } => CloseCode::MALFORMED,
            ReconError::ItemOutOfRange { .. }
            | ReconError::ItemsNotAscending { .. }
            | ReconError::DevicesItem { .. } => CloseCode::PROTOCOL,
        }
    }
}
