//! ALPN and protocol version negotiation (HS-TRANSPORT-1, HS-VER-1, HS-VER-2).

/// The ALPN of the HumanSync sync protocol, version family 1 (HS-TRANSPORT-1).
pub const SYNC_ALPN: &[u8] = b"humansync/1";

/// Protocol version 1: range reconciliation on every reconnect.
pub const V1: u16 = 1;

/// Protocol version 2: version 1 plus resuming from a change-log cursor (HS-RESUME-*).
pub const V2: u16 = 2;

/// Protocol version 3: version 2 with one cumulative acknowledgement (`Held`) of received
/// DocWhole and DocChanges messages instead of one DocSync per document (HS-SYNC-14).
pub const V3: u16 = 3;

/// The versions this implementation supports, ascending (HS-VER-1).
pub const SUPPORTED_VERSIONS: &[u16] = &[V1, V2, V3];

/// Whether `msg` may be sent in a session of `version` (HS-MSG-5): the resume messages need 2,
/// `Held` needs 3.
pub fn allowed_in(msg: &crate::Message, version: u16) -> bool {
    use crate::Message;
    match msg {
        Message::Resume { .. }
        | Message::Resumed { .. }
        | Message::DocChanges { .. }
        | Message::Synced { .. } => version >= V2,
        Message::Held { .. } => version >= V3,
        _ => true,
    }
}

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
