//! The brute-force guard of the password endpoints: sansio's [`PairingGuard`] keyed by client
//! address, shared by `POST /pair` and `DELETE /devices/{id}` (HS-PAIR-2, HS-PAIR-7).

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use humansync_sansio::pairing::{Attempt, GuardConfig, PairingGuard, Refusal};

/// A rate-limit source: an IPv4 address, or an IPv6 /64 (HS-PAIR-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceKey([u8; 16]);

impl SourceKey {
    /// The source of a client address. IPv4-mapped IPv6 counts as IPv4.
    pub fn of(ip: IpAddr) -> SourceKey {
        match ip {
            IpAddr::V4(v4) => SourceKey(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey(v4.to_ipv6_mapped().octets()),
                None => {
                    let mut octets = v6.octets();
                    octets[8..].fill(0);
                    SourceKey(octets)
                }
            },
        }
    }
}

/// A guard, shared by the handlers: keyed by [`SourceKey`] for unauthenticated clients, or by
/// device id for the owner's logins from registered devices (HS-PAIR-7).
#[derive(Debug)]
pub struct Guard<K: Ord + Clone = SourceKey>(Mutex<PairingGuard<K>>);

impl<K: Ord + Clone> Guard<K> {
    /// A guard with `config` (the SPEC's limits by default).
    pub fn new(config: GuardConfig) -> Guard<K> {
        Guard(Mutex::new(PairingGuard::new(config)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PairingGuard<K>> {
        // The guard's methods leave it consistent at every return; a panic cannot tear it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Limits, then counts the attempt as a failure until [`Guard::succeed`] (HS-PAIR-2).
    pub fn begin(&self, now_ms: u64, source: &K) -> Result<Attempt, Refusal> {
        self.lock().begin(now_ms, source)
    }

    /// Resolves an attempt as a success.
    pub fn succeed(&self, now_ms: u64, source: &K, attempt: Attempt) {
        self.lock().succeed(now_ms, source, attempt);
    }

    /// When pairing is locked out, if it is at `now_ms`.
    pub fn locked_until_ms(&self, now_ms: u64) -> Option<u64> {
        self.lock().locked_until_ms(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sources_are_aggregated_per_64() {
        // HS-PAIR-2
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(SourceKey::of(a), SourceKey::of(b));
        assert_ne!(SourceKey::of(a), SourceKey::of(c));
        let v4: IpAddr = "192.0.2.1".parse().expect("ip");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(SourceKey::of(v4), SourceKey::of(mapped));
        assert_ne!(SourceKey::of(v4), SourceKey::of("192.0.2.2".parse().expect("ip")));
    }
}
