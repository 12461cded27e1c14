//! Trusted reverse proxies (HS-PAIR-10): which TCP peers may tell the server the client's address
//! in `X-Forwarded-For`, and how that address is chosen.
//!
//! A proxy appends the address it received the request from to `X-Forwarded-For`; everything to
//! the left of that was written by whoever sent the request and proves nothing. So the client is
//! the rightmost address that is not itself a trusted proxy, and the header is read at all only
//! when the TCP peer is a trusted proxy: from anyone else it is ignored.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The header a proxy appends the client's address to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";
/// At most this many `X-Forwarded-For` entries are examined, from the right (a longer chain of
/// trusted proxies falls back to the TCP peer).
pub const MAX_FORWARDED_HOPS: usize = 16;

/// A trusted proxy: an address or a network (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

/// Why a trusted-proxy setting is not an address or network.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR network such as 10.0.0.0/8")]
pub struct BadProxy(String);

impl FromStr for TrustedProxy {
    type Err = BadProxy;

    fn from_str(text: &str) -> Result<TrustedProxy, BadProxy> {
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(TrustedProxy(net.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|ip| TrustedProxy(IpNet::from(ip)))
            .map_err(|_| BadProxy(text.to_owned()))
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TrustedProxy {
    /// Whether `ip` (IPv4-mapped IPv6 counts as IPv4) is this proxy or in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

/// Where a request comes from, as far as the guard and the audit log are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The client's address: the TCP peer's, or the one a trusted proxy forwarded.
    pub ip: IpAddr,
    /// The TCP peer.
    pub peer: SocketAddr,
    /// Whether `ip` came from `X-Forwarded-For` (the peer is then a trusted proxy).
    pub forwarded: bool,
}

impl fmt::Display for Source {
    /// `ip` when forwarded (the proxy does not tell the client's port), else the peer `ip:port`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.forwarded {
            self.ip.fmt(f)
        } else {
            self.peer.fmt(f)
        }
    }
}

impl Source {
    /// The proxy the request came through, for the audit log: its address, or `-` when direct.
    pub fn via(&self) -> String {
        if self.forwarded {
            self.peer.to_string()
        } else {
            "-".to_owned()
        }
    }
}

/// The trusted proxies of a server (empty: `X-Forwarded-For` is never read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<TrustedProxy>);

impl TrustedProxies {
    /// These proxies.
    pub fn new(proxies: Vec<TrustedProxy>) -> TrustedProxies {
        TrustedProxies(proxies)
    }

    /// The configured proxies.
    pub fn list(&self) -> &[TrustedProxy] {
        &self.0
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|p| p.contains(ip))
    }

    /// The source of a request from TCP peer `peer` with `headers` (HS-PAIR-10): when the peer
    /// is a trusted proxy, the rightmost `X-Forwarded-For` address that is not a trusted proxy;
    /// otherwise, or when the header names none (absent, malformed where it matters, or only
    /// trusted proxies within [`MAX_FORWARDED_HOPS`]), the peer itself.
    pub fn source(&self, peer: SocketAddr, headers: &HeaderMap) -> Source {
        let direct = Source {
            ip: peer.ip().to_canonical(),
            peer,
            forwarded: false,
        };
        if !self.trusts(peer.ip()) {
            return direct;
        }
        // Several header lines form one list, in order (RFC 9110 §5.3).
        let mut entries: Vec<&str> = Vec::new();
        for value in headers.get_all(X_FORWARDED_FOR) {
            let Ok(text) = value.to_str() else {
                return direct;
            };
            entries.extend(text.split(','));
        }
        for entry in entries.iter().rev().take(MAX_FORWARDED_HOPS) {
            let Some(ip) = parse_entry(entry) else {
                // A trusted proxy writes a well-formed address: anything else here was sent by
                // the client, and nothing to its left can be trusted either.
                return direct;
            };
            if !self.trusts(ip) {
                return Source {
                    ip,
                    peer,
                    forwarded: true,
                };
            }
        }
        direct
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`192.0.2.1:1234`,
/// `[2001:db8::1]:1234`), as proxies write them.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|p| p.parse().expect("proxy")).collect())
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    const PROXY: &str = "10.0.0.2:40000";

    #[test]
    fn settings_parse_addresses_and_networks() {
        // HS-PAIR-10
        for good in ["10.0.0.0/8", "192.0.2.7", "::1", "fd00::/8", " 172.16.0.0/12 "] {
            assert!(good.parse::<TrustedProxy>().is_ok(), "{good}");
        }
        for bad in ["", "10.0.0.0/33", "proxy.example", "10.0.0.1:80", "*"] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad}");
        }
        let net: TrustedProxy = "10.1.2.3/8".parse().expect("net");
        assert_eq!(net.to_string(), "10.0.0.0/8");
        assert!(net.contains(ip("10.200.0.1")));
        assert!(net.contains(ip("::ffff:10.200.0.1")), "IPv4-mapped peers match");
        assert!(!net.contains(ip("11.0.0.1")));
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_trusted() {
        // HS-PAIR-10
        let peer: SocketAddr = "203.0.113.5:5000".parse().expect("addr");
        let spoofed = headers(&["198.51.100.1"]);
        for trusted in [proxies(&[]), proxies(&["10.0.0.0/8"])] {
            let s = trusted.source(peer, &spoofed);
            assert_eq!((s.ip, s.forwarded), (peer.ip(), false));
            assert_eq!(s.to_string(), "203.0.113.5:5000");
            assert_eq!(s.via(), "-");
        }
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        // HS-PAIR-10
        let peer: SocketAddr = PROXY.parse().expect("addr");
        let trusted = proxies(&["10.0.0.0/8"]);
        let of = |values: &[&str]| trusted.source(peer, &headers(values));
        let s = of(&["198.51.100.1"]);
        assert_eq!((s.ip, s.forwarded), (ip("198.51.100.1"), true));
        assert_eq!(
            (s.to_string(), s.via()),
            ("198.51.100.1".to_owned(), PROXY.to_owned())
        );
        // A client-written prefix is skipped; inner proxies are walked past.
        assert_eq!(of(&["203.0.113.66, 198.51.100.1"]).ip, ip("198.51.100.1"));
        assert_eq!(
            of(&["203.0.113.66, 198.51.100.1, 10.0.0.9"]).ip,
            ip("198.51.100.1")
        );
        assert_eq!(
            of(&["203.0.113.66", "198.51.100.1, 10.0.0.9"]).ip,
            ip("198.51.100.1")
        );
        assert_eq!(of(&["garbage, 198.51.100.1:443"]).ip, ip("198.51.100.1"));
        assert_eq!(of(&["[2001:db8::7]:443"]).ip, ip("2001:db8::7"));
        // Nothing usable: the proxy itself is the source.
        for values in [&[][..], &["10.0.0.9"], &["198.51.100.1, garbage"], &[""]] {
            let s = of(values);
            assert_eq!((s.ip, s.forwarded), (peer.ip(), false), "{values:?}");
        }
        let long: Vec<String> = (0..=MAX_FORWARDED_HOPS).map(|i| format!("10.0.1.{i}")).collect();
        let mut chain = vec!["198.51.100.1".to_owned()];
        chain.extend(long);
        assert!(!of(&[&chain.join(",")]).forwarded, "the walk is bounded");
    }
}
