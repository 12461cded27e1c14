//! ALPN and protocol version negotiation (HS-TRANSPORT-1, HS-VER-1, HS-VER-2).

/// The ALPN of the HumanSync sync protocol, version family 1 (HS-TRANSPORT-1).
pub const SYNC_ALPN: &[u8] = b"humansync/1";

/// Protocol version 1, the one this crate implements.
pub const V1: u16 = 1;

/// The versions this implementation supports, ascending (HS-VER-1).
pub const SUPPORTED_VERSIONS: &[u16] = &[V1];

/// Picks the highest version present in both `ours` and `theirs` (HS-VER-2).
///
/// Returns `None` when the two lists share no version.
pub fn negotiate(ours: &[u16], theirs: &[u16]) -> Option<u16> {
    ours.iter().copied().filter(|v| theirs.contains(v)).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_highest_common_version() {
        // HS-VER-2
        assert_eq!(negotiate(&[1, 2, 3], &[2, 3, 9]), Some(3));
        assert_eq!(negotiate(&[1], &[1]), Some(1));
        assert_eq!(negotiate(&[1], &[2]), None);
        assert_eq!(negotiate(&[], &[1]), None);
    }
}
