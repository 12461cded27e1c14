//! Why the registry refused a record or an anchor.

use humansync_protocol::{DeviceId, RecordError};

/// Why [`super::Registry`] refused an operation (HS-REG-1, HS-REG-4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The node is not paired: without an anchor no record can be verified.
    #[error("no registry anchor: the node is not paired")]
    NoAnchor,
    /// The node already trusts another anchor; it never changes (HS-ID-3).
    #[error("registry anchor is {current}, refusing {requested}")]
    AnchorMismatch {
        /// The anchor the node trusts.
        current: DeviceId,
        /// The anchor that was offered.
        requested: DeviceId,
    },
    /// The record does not decode or does not verify under the anchor (HS-REG-1).
    #[error("invalid registry record: {0}")]
    Record(#[from] RecordError),
    /// The record already failed verification (its verdict is cached by content, HS-REG-3).
    #[error("invalid registry record (already refused)")]
    KnownInvalid,
    /// The view already holds [`humansync_protocol::limits::MAX_REGISTRY_RECORDS`] records (a first
    /// revocation of a registered device is still accepted).
    #[error("registry is full")]
    Full,
}
