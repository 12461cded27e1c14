//! How much of a blob this node holds ([`crate::Node::blob_progress`]): what an app shows for an
//! attachment still on its way ("1.2 MB of 5 MB").

/// The bytes of one blob held here now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobProgress {
    /// Verified bytes present (a transfer under way counts what has arrived so far; 0 when the
    /// blob is not here at all).
    pub received: u64,
    /// Its size once verified (the last chunk has arrived, or the blob is complete).
    pub size: Option<u64>,
    /// Every byte is here.
    pub complete: bool,
}
