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
/// [`CloseCode::PROTOCOL`] (unknown codes are treated like PROTOCOL, HS-CLOSE-1, HS-CLOSE-3).
/// A code the peer closed with is only reported: no code, `REVOKED` included, makes this
/// node conclude anything about itself (HS-GATE-7).
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

#[cfg(test)]
mod tests {
    use iroh::endpoint::ApplicationClose;

    use super::*;

    #[test]
    fn close_codes_round_trip_and_unknown_wide_codes_read_as_protocol() {
        for code in [
            CloseCode::NORMAL,
            CloseCode::REVOKED,
            CloseCode::INTERNAL,
            CloseCode(u32::MAX),
        ] {
            assert_eq!(close_code(var_int(code)), code);
        }
        let wide = VarInt::from_u64(u64::from(u32::MAX) + 1).expect("fits a varint");
        assert_eq!(close_code(wide), CloseCode::PROTOCOL);
    }

    #[test]
    fn connection_errors_report_the_right_code() {
        let by_peer = ConnectionError::ApplicationClosed(ApplicationClose {
            error_code: var_int(CloseCode::REVOKED),
            reason: Default::default(),
        });
        assert_eq!(
            code_of_error(&by_peer, Some(CloseCode::NORMAL)),
            CloseCode::REVOKED
        );
        let ours = ConnectionError::LocallyClosed;
        assert_eq!(
            code_of_error(&ours, Some(CloseCode::DUPLICATE)),
            CloseCode::DUPLICATE
        );
        assert_eq!(
            code_of_error(&ConnectionError::TimedOut, None),
            CloseCode::INTERNAL
        );
    }
}
