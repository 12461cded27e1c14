//! The table of live connections: sync sessions by [`ConnId`] and every connection by peer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use humansync_protocol::{CloseCode, DeviceId};
use humansync_sansio::ConnId;
use iroh::endpoint::{Connection, WeakConnectionHandle};

use super::convert::var_int;
use super::queue::QueueTx;

/// Connection ids are unique in the process, across transports (HS: the core's ConnId contract).
static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// Allocates a fresh [`ConnId`].
pub(crate) fn next_conn_id() -> ConnId {
    ConnId(NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed))
}

/// The close code we chose for a connection, set once, before we close it.
pub(crate) type LocalClose = Arc<OnceLock<CloseCode>>;

/// Closes `conn` with `code` and records the code so the session reports it.
pub(crate) fn close_with(conn: &Connection, local: &LocalClose, code: CloseCode) {
    let _ = local.set(code);
    conn.close(var_int(code), code.name().as_bytes());
}

/// One open sync session.
#[derive(Debug)]
pub(crate) struct SessionEntry {
    /// The authenticated peer (HS-GATE-1).
    pub(crate) peer: DeviceId,
    /// The QUIC connection carrying the session.
    pub(crate) conn: Connection,
    /// The send queue feeding the writer task.
    pub(crate) queue: QueueTx,
    /// The close code we chose, if we closed it.
    pub(crate) local_close: LocalClose,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<ConnId, SessionEntry>,
    /// Every admitted connection on every ALPN, both directions, as weak handles keyed by
    /// QUIC stable id (HS-GATE-4). Only admitted peers stay here, so its size is bounded by the registry.
    by_peer: HashMap<DeviceId, Vec<(usize, WeakConnectionHandle)>>,
    /// The direct addresses each admitted peer was last seen at (for the server's DeviceInfo.addrs).
    /// Bounded like `by_peer`: only admitted peers are recorded.
    last_seen: HashMap<DeviceId, Vec<std::net::SocketAddr>>,
}

/// Shared connection table. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table(Arc<Mutex<Inner>>);

impl Table {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section only inserts or removes map entries; a panic cannot leave them half-built.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a connection (any ALPN) so that [`Table::disconnect_peer`] finds it; drops the
    /// peer's handles of connections that ended.
    pub(crate) fn register(&self, peer: DeviceId, conn: &Connection) {
        let mut inner = self.lock();
        let handles = inner.by_peer.entry(peer).or_default();
        handles.retain(|(_, h)| h.upgrade().is_some_and(|c| c.close_reason().is_none()));
        handles.push((conn.stable_id(), conn.weak_handle()));
    }

    /// Forgets a connection the gate refused, so refused ids leave nothing behind.
    pub(crate) fn unregister(&self, peer: &DeviceId, conn: &Connection) {
        let mut inner = self.lock();
        if let Some(handles) = inner.by_peer.get_mut(peer) {
            handles.retain(|(id, _)| *id != conn.stable_id());
            if handles.is_empty() {
                inner.by_peer.remove(peer);
            }
        }
    }

    /// Adds a session.
    pub(crate) fn insert_session(&self, conn: ConnId, entry: SessionEntry) {
        self.lock().sessions.insert(conn, entry);
    }

    /// Removes a session (when it ended).
    pub(crate) fn remove_session(&self, conn: ConnId) -> Option<SessionEntry> {
        self.lock().sessions.remove(&conn)
    }

    /// Runs `f` on the session, if open.
    pub(crate) fn with_session<T>(&self, conn: ConnId, f: impl FnOnce(&SessionEntry) -> T) -> Option<T> {
        self.lock().sessions.get(&conn).map(f)
    }

    /// Closes every connection with `peer` on every ALPN at once and discards queued session data (HS-GATE-4).
    /// Returns how many connections were open.
    pub(crate) fn disconnect_peer(&self, peer: &DeviceId, code: CloseCode) -> usize {
        let mut inner = self.lock();
        let mut closed = 0;
        for entry in inner.sessions.values().filter(|e| e.peer == *peer) {
            entry.queue.discard();
            if entry.conn.close_reason().is_none() {
                closed += 1;
            }
            close_with(&entry.conn, &entry.local_close, code);
        }
        // Sessions closed above already have a close reason, so they are not counted twice.
        for (_, handle) in inner.by_peer.remove(peer).unwrap_or_default() {
            if let Some(conn) = handle.upgrade().filter(|c| c.close_reason().is_none()) {
                conn.close(var_int(code), code.name().as_bytes());
                closed += 1;
            }
        }
        closed
    }

    /// Closes every connection (shutdown). Returns the sessions' ids.
    pub(crate) fn close_all(&self, code: CloseCode) -> Vec<ConnId> {
        let mut inner = self.lock();
        for entry in inner.sessions.values() {
            entry.queue.discard();
            close_with(&entry.conn, &entry.local_close, code);
        }
        for (_, handle) in inner.by_peer.drain().flat_map(|(_, v)| v) {
            if let Some(conn) = handle.upgrade() {
                conn.close(var_int(code), code.name().as_bytes());
            }
        }
        inner.sessions.keys().copied().collect()
    }

    /// Records the direct addresses an admitted connection with `peer` uses now.
    pub(crate) fn remember_addrs(&self, peer: DeviceId, conn: &Connection) {
        let addrs = direct_addrs(conn);
        if !addrs.is_empty() {
            self.lock().last_seen.insert(peer, addrs);
        }
    }

    /// The direct addresses each peer was last seen at: those of its live connections now
    /// (paths change), else those recorded when it last connected.
    pub(crate) fn last_seen_addrs(&self) -> std::collections::BTreeMap<DeviceId, Vec<std::net::SocketAddr>> {
        let mut inner = self.lock();
        let Inner {
            by_peer, last_seen, ..
        } = &mut *inner;
        for (peer, handles) in by_peer.iter() {
            let live: Vec<std::net::SocketAddr> = handles
                .iter()
                .filter_map(|(_, h)| h.upgrade())
                .filter(|c| c.close_reason().is_none())
                .flat_map(|c| direct_addrs(&c))
                .collect();
            if !live.is_empty() {
                let mut live = live;
                live.sort();
                live.dedup();
                last_seen.insert(*peer, live);
            }
        }
        last_seen.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// The direct addresses of the peer's other open connections when `conn`, just admitted
    /// from `peer`, reaches us from the IP address of one of them but on another port and
    /// shares no address with any: a new socket, so the peer restarted (or its NAT mapped it
    /// anew) and left them behind (HS-TRANSPORT-5). `None` otherwise — a peer reaching us
    /// from another IP address (IPv4 and IPv6, another interface) may still use them.
    pub(crate) fn left_behind_by(
        &self,
        peer: &DeviceId,
        conn: &Connection,
    ) -> Option<Vec<std::net::SocketAddr>> {
        let new = direct_addrs(conn);
        if new.is_empty() {
            return None;
        }
        let inner = self.lock();
        let older: Vec<std::net::SocketAddr> = inner
            .by_peer
            .get(peer)
            .into_iter()
            .flatten()
            .filter(|(id, _)| *id != conn.stable_id())
            .filter_map(|(_, h)| h.upgrade())
            .filter(|c| c.close_reason().is_none())
            .flat_map(|c| direct_addrs(&c))
            .collect();
        supersedes(&new, &older).then_some(older)
    }

    /// The ids of open sessions with `peer`.
    pub(crate) fn sessions_of(&self, peer: &DeviceId) -> Vec<ConnId> {
        let inner = self.lock();
        inner
            .sessions
            .iter()
            .filter(|(_, e)| e.peer == *peer)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// HS-TRANSPORT-5's test: `new` (a just-admitted connection's direct addresses) supersedes
/// `older` (those of the peer's other open connections) when it shares none of them and comes
/// from the IP address of one of them on another port — a new socket of the same host.
fn supersedes(new: &[std::net::SocketAddr], older: &[std::net::SocketAddr]) -> bool {
    let same_ip = older.iter().any(|a| new.iter().any(|n| n.ip() == a.ip()));
    same_ip && !older.iter().any(|a| new.contains(a))
}

/// The remote IP addresses of a connection's open paths (relay paths excluded).
fn direct_addrs(conn: &Connection) -> Vec<std::net::SocketAddr> {
    conn.paths()
        .iter()
        .filter_map(|p| match p.remote_addr() {
            iroh::TransportAddr::Ip(addr) => Some(*addr),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::supersedes;
    use std::net::SocketAddr;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().expect("addr")).collect()
    }

    #[test]
    fn a_new_port_on_the_same_ip_supersedes_the_older_connections() {
        assert!(supersedes(&addrs(&["10.0.0.2:4000"]), &addrs(&["10.0.0.2:3000"])));
        assert!(supersedes(
            &addrs(&["10.0.0.2:4000"]),
            &addrs(&["10.0.0.2:3000", "[fd00::2]:3000"])
        ));
    }

    #[test]
    fn another_ip_a_shared_address_or_no_address_does_not() {
        // IPv4 and IPv6, or another interface, of a process that may still use the older ones.
        assert!(!supersedes(
            &addrs(&["[fd00::2]:4000"]),
            &addrs(&["10.0.0.2:3000"])
        ));
        assert!(!supersedes(
            &addrs(&["192.168.1.2:3000"]),
            &addrs(&["10.0.0.2:3000"])
        ));
        // The same socket (an older connection migrated to it, or one more connection).
        assert!(!supersedes(
            &addrs(&["10.0.0.2:4000"]),
            &addrs(&["10.0.0.2:3000", "10.0.0.2:4000"])
        ));
        assert!(!supersedes(
            &addrs(&["10.0.0.2:4000"]),
            &addrs(&["10.0.0.2:4000"])
        ));
        assert!(!supersedes(&addrs(&["10.0.0.2:4000"]), &[]));
        assert!(!supersedes(&[], &addrs(&["10.0.0.2:3000"])));
    }
}
