//! Conversions between HumanSync's wire types and iroh's.

use humansync_protocol::{BlobHash, CloseCode, DeviceId};
use iroh::EndpointId;
use iroh::endpoint::{ConnectionError, VarInt};

/// The device id of an iroh endpoint id (both are the Ed25519 public key, HS-ID-1).
///
/// `None` only if iroh handed us a key that is not a valid point, which its TLS layer rules out.
pub(crate) fn device_id(id: &EndpointId) -> Option<DeviceId> {
    DeviceId::from_bytes(*id.as_bytes()).ok()
}

/// The iroh endpoint id of a device id; `None` cannot happen for a checked [`DeviceId`].
pub(crate) fn endpoint_id(id: &DeviceId) -> Option<EndpointId> {
    EndpointId::from_bytes(id.as_bytes()).ok()
}

/// The iroh-blobs hash of a blob hash (both BLAKE3, HS-BLOB-1).
pub(crate) fn blobs_hash(hash: BlobHash) -> iroh_blobs::Hash {
    iroh_blobs::Hash::from_bytes(hash.0)
}

/// The blob hash of an iroh-blobs hash.
pub(crate) fn blob_hash(hash: iroh_blobs::Hash) -> BlobHash {
    BlobHash(*hash.as_bytes())
}

/// The QUIC application error code for a close code (HS-CLOSE-1).
pub(crate) fn var_int(code: CloseCode) -> VarInt {
    VarInt::from_u32(code.0)
}

/// The close code of a QUIC application error code; values beyond `u32` read as
/// [`CloseCode::PROTOCOL`] (unknown codes are treated like PROTOCOL, HS-CLOSE-1).
pub(crate) fn close_code(code: VarInt) -> CloseCode {
    u32::try_from(code.into_inner()).map_or(CloseCode::PROTOCOL, CloseCode)
}

/// The close code a connection error reports: the peer's application code when it closed
/// with one, else `local` when we closed it ourselves, else [`CloseCode::INTERNAL`] (timeout,
/// reset, transport error: a fault of the path, not a verdict of the peer).
pub(crate) fn code_of_error(err: &ConnectionError, local: Option<CloseCode>) -> CloseCode {
    match err {
        ConnectionError::ApplicationClosed(close) => close_code(close.error_code),
        ConnectionError::LocallyClosed => local.unwrap_or(CloseCode::NORMAL),
        _ => local.unwrap_or(CloseCode::INTERNAL),
    }
}
