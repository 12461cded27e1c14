//! The brute-force guard of the password endpoints: sansio's [`PairingGuard`] keyed by client
//! address, shared by `POST /pair` and `DELETE /devices/{id}` (HS-PAIR-2, HS-PAIR-7).

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use humansync_sansio::pairing::{GuardConfig, PairingGuard, Refusal};

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

/// The guard, shared by the handlers.
#[derive(Debug)]
pub struct Guard(Mutex<PairingGuard<SourceKey>>);

impl Guard {
    /// A guard with `config` (the SPEC's limits by default).
    pub fn new(config: GuardConfig) -> Guard {
        Guard(Mutex::new(PairingGuard::new(config)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PairingGuard<SourceKey>> {
        // The guard's methods leave it consistent at every return; a panic cannot tear it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lockout, backoff and rate limits before a password check (HS-PAIR-2).
    pub fn check(&self, now_ms: u64, source: SourceKey) -> Result<(), Refusal> {
        self.lock().check(now_ms, &source)
    }

    /// A wrong password from `source`.
    pub fn failure(&self, now_ms: u64, source: SourceKey) {
        self.lock().record_failure(now_ms, &source);
    }

    /// A right password from `source`.
    pub fn success(&self, now_ms: u64, source: SourceKey) {
        self.lock().record_success(now_ms, &source);
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
