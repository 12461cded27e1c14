//! The replay cache of signed requests: each accepted (node_id, nonce) is remembered until
//! `ts + HTTP_AUTH_WINDOW_MS` has passed (HS-HTTP-3).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use humansync_protocol::DeviceId;
use humansync_protocol::limits::{HTTP_AUTH_WINDOW_MS, MAX_NONCES_PER_DEVICE};

/// Most remembered nonces. Only registered devices with a valid signature get this far, and each
/// holds at most `MAX_NONCES_PER_DEVICE`, so the bound is reached only by 64 devices flooding the
/// server at once; it is then answered 429.
pub const MAX_NONCES: usize = 65_536;

type Key = (DeviceId, [u8; 16]);

/// Why a nonce was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// Already accepted within the window: 401.
    Replayed,
    /// The cache is full of live nonces: 429, retry after this many ms.
    Full {
        /// Until the oldest entry expires.
        retry_after_ms: u64,
    },
}

#[derive(Debug, Default)]
struct Inner {
    expiry: BTreeMap<Key, u64>,
    by_time: BTreeSet<(u64, Key)>,
    /// Live nonces per device, for the per-device quota.
    per_device: BTreeMap<DeviceId, usize>,
}

/// Accepted nonces with their expiry.
#[derive(Debug, Default)]
pub struct ReplayCache(Mutex<Inner>);

impl ReplayCache {
    /// Accepts `(node, nonce)` signed at `ts_ms`, unless it was accepted before and has not expired.
    pub fn accept(
        &self,
        now_ms: u64,
        node: DeviceId,
        nonce: [u8; 16],
        ts_ms: u64,
    ) -> Result<(), ReplayError> {
        // Every critical section leaves both maps in step; a panic cannot tear them.
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(&(at, key)) = inner.by_time.first() {
            if at > now_ms {
                break;
            }
            inner.by_time.pop_first();
            inner.expiry.remove(&key);
            if let Some(n) = inner.per_device.get_mut(&key.0) {
                *n -= 1;
                if *n == 0 {
                    inner.per_device.remove(&key.0);
                }
            }
        }
        let key = (node, nonce);
        if inner.expiry.contains_key(&key) {
            return Err(ReplayError::Replayed);
        }
        // The per-device quota first: one device flooding never locks the others out.
        if inner.per_device.get(&node).copied().unwrap_or(0) >= MAX_NONCES_PER_DEVICE {
            let oldest = inner
                .by_time
                .iter()
                .find(|(_, (device, _))| *device == node)
                .map_or(now_ms, |(at, _)| *at);
            return Err(ReplayError::Full {
                retry_after_ms: oldest.saturating_sub(now_ms).max(1),
            });
        }
        if inner.expiry.len() >= MAX_NONCES {
            let oldest = inner.by_time.first().map_or(now_ms, |(at, _)| *at);
            return Err(ReplayError::Full {
                retry_after_ms: oldest.saturating_sub(now_ms).max(1),
            });
        }
        // Kept until ts + window, and at least until now + window (a ts in the future is
        // within the window too).
        let until = ts_ms.max(now_ms).saturating_add(HTTP_AUTH_WINDOW_MS);
        inner.expiry.insert(key, until);
        inner.by_time.insert((until, key));
        *inner.per_device.entry(node).or_default() += 1;
        Ok(())
    }

    /// Nonces held now.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).expiry.len()
    }

    /// True when no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> DeviceId {
        DeviceId::from(&ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
    }

    #[test]
    fn a_nonce_is_refused_until_its_window_passed() {
        // HS-HTTP-3
        let cache = ReplayCache::default();
        let t = 1_000_000;
        assert_eq!(cache.accept(t, device(), [1; 16], t), Ok(()));
        assert_eq!(
            cache.accept(t + 1, device(), [1; 16], t),
            Err(ReplayError::Replayed)
        );
        assert_eq!(cache.accept(t + 1, device(), [2; 16], t), Ok(()));
        assert_eq!(
            cache.accept(t + HTTP_AUTH_WINDOW_MS - 1, device(), [1; 16], t),
            Err(ReplayError::Replayed)
        );
        // After the window the entry is gone (and the request itself would be stale); [2; 16],
        // accepted at t + 1, is kept until t + 1 + window.
        assert_eq!(
            cache.accept(t + HTTP_AUTH_WINDOW_MS, device(), [1; 16], t),
            Ok(())
        );
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.accept(
                t + HTTP_AUTH_WINDOW_MS + 1,
                device(),
                [3; 16],
                t + HTTP_AUTH_WINDOW_MS
            ),
            Ok(())
        );
        assert_eq!(cache.len(), 2, "[2; 16] expired");
    }
}
