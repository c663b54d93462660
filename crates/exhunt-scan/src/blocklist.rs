//! The blocklist, applied to every target before anything else is done with it.
//!
//! By default the special-purpose ranges of RFC 6890 (and its IANA registries) are blocked: private, loopback,
//! link-local, documentation, multicast, reserved. Only an explicit `allow_reserved` lifts them (the lab lives on
//! loopback). Operators add their own exclusions (`--exclude FILE`: addresses and CIDRs, `#` comments).

use exhunt_model::net::{self, IpNet};
use std::net::IpAddr;

/// RFC 6890 special-purpose IPv4 and IPv6 ranges (plus multicast and the limited broadcast address). IPv4-mapped
/// IPv6 (`::ffff:0:0/96`) is absent on purpose: IPv4 targets live in that space here and get the IPv4 entries.
pub const RESERVED: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "64:ff9b::/96",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// Sorted, merged ranges of addresses (IPv4 mapped into the IPv6 space as `::ffff:a.b.c.d`).
#[derive(Clone, Debug, Default)]
pub struct Blocklist {
    ranges: Vec<(u128, u128)>,
    /// The entries as given, for the metadata's hash.
    pub entries: Vec<String>,
}

impl Blocklist {
    /// The default: RFC 6890 unless `allow_reserved`.
    pub fn new(allow_reserved: bool) -> Blocklist {
        let mut b = Blocklist::default();
        if !allow_reserved {
            for r in RESERVED {
                if let Ok(net) = IpNet::parse(r) {
                    b.add(net, r);
                }
            }
        }
        b
    }

    /// Blocks `net`; `text` is how it was written (for the hash).
    pub fn add(&mut self, net: IpNet, text: &str) {
        self.ranges.push((net::to_u128(net.first()), net::to_u128(net.last())));
        self.entries.push(text.to_string());
        self.ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(self.ranges.len());
        for (a, b) in self.ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.ranges = merged;
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let x = net::to_u128(ip);
        let i = self.ranges.partition_point(|(a, _)| *a <= x);
        i > 0 && self.ranges[i - 1].1 >= x
    }

    /// SHA-256 over the entries, one per line, for `metadata.json`.
    pub fn hash(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for e in &self.entries {
            h.update(e.as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_is_blocked_by_default_and_lifted_only_explicitly() {
        let b = Blocklist::new(false);
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.1.1", "::1", "fe80::1", "224.0.0.1", "255.255.255.255"] {
            assert!(b.contains(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2a00:1450::1"] {
            assert!(!b.contains(ip.parse().expect("ip")), "{ip}");
        }
        assert!(!Blocklist::new(true).contains("127.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn every_reserved_range_is_a_network_and_all_are_blocked() {
        for r in RESERVED {
            IpNet::parse(r).unwrap_or_else(|e| panic!("{r}: {e}"));
        }
        assert_eq!(Blocklist::new(false).entries.len(), RESERVED.len());
    }

    #[test]
    fn ranges_merge_and_ipv4_mapped_clients_are_ipv4() {
        let mut b = Blocklist::new(true);
        for r in ["198.51.100.0/25", "198.51.100.128/25", "203.0.113.9"] {
            b.add(IpNet::parse(r).expect("net"), r);
        }
        assert_eq!(b.ranges.len(), 2, "two adjacent halves are one range: {:?}", b.ranges);
        for ip in ["198.51.100.0", "198.51.100.255", "::ffff:198.51.100.7", "203.0.113.9"] {
            assert!(b.contains(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["198.51.101.0", "203.0.113.10", "2001:db8::"] {
            assert!(!b.contains(ip.parse().expect("ip")), "{ip}");
        }
    }
}
