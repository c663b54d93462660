//! IP networks: one type for the IOC packs' `[[ip]]` entries, the scanner's targets and exclusions, and the lab's
//! loopback ranges.
//!
//! An [`IpNet`] is an IPv4 or IPv6 network; a single address is a network with a full-length prefix. IPv4 lives in
//! the IPv6 space as its IPv4-mapped form (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so the two spellings of an IPv4
//! address or network are one value: `::ffff:192.0.2.0/120` *is* `192.0.2.0/24`, prints as it, and contains
//! `192.0.2.7` written either way. [`to_u128`] and [`from_u128`] are that mapping, for code that keeps sorted
//! ranges of addresses (the scanner's blocklist, its target list).
//!
//! Two parsers, for the two kinds of input:
//!
//! * [`IpNet::parse`] (and [`str::parse`]): a value in a file of record, such as an IOC pack, where host bits set
//!   under the prefix (`10.1.2.3/8`) are a mistake to report ([`NetError::HostBits`]).
//! * [`IpNet::parse_truncating`]: what an operator types as a target range, where `192.0.2.77/24` means the `/24`
//!   it is in (as zmap and nmap read it).
//!
//! Serde reads and writes an `IpNet` as its string form (`"203.0.113.0/24"`, `"2001:db8::1"`), parsed strictly.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network (see the module documentation). Its host bits are always zero.
///
/// Ordered by first address, then by prefix length (a network before the smaller networks that start where it
/// does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    /// The first address in the IPv6 space (IPv4 mapped).
    bits: u128,
    /// Prefix length in the IPv6 space: an IPv4 `/n` is `96 + n`.
    len: u8,
}

/// Why a string is not an address or network. The messages are shown to people as they are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The part before `/` is not an address.
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    Address(String),
    /// The part after `/` is not a prefix length of the address's family.
    #[error("prefix length `/{prefix}` is not a number from 0 to {max}")]
    Prefix { prefix: String, max: u8 },
    /// Bits are set under the prefix (strict parsing only).
    #[error("`{text}` has host bits set under its /{prefix} prefix; the network is `{network}`")]
    HostBits { text: String, prefix: u8, network: IpNet },
}

/// IPv4-mapped IPv6 addresses: `::ffff:0:0/96`.
const MAPPED: u128 = 0xffff << 32;

/// An address as a number in the IPv6 space: IPv6 as it is, IPv4 as its IPv4-mapped address (`::ffff:a.b.c.d`).
pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => MAPPED | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address of a number in the IPv6 space; an IPv4-mapped address comes back as IPv4.
pub fn from_u128(x: u128) -> IpAddr {
    if x >> 32 == 0xffff { IpAddr::V4(Ipv4Addr::from(x as u32)) } else { IpAddr::V6(Ipv6Addr::from(x)) }
}

/// The network bits of a prefix length in the IPv6 space.
fn mask(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len.min(128))).unwrap_or(0)
}

impl IpNet {
    /// Parses `1.2.3.4`, `1.2.3.0/24`, `2001:db8::1` or `2001:db8::/32`. Host bits set under the prefix are an
    /// error. No white space is allowed around the value.
    pub fn parse(s: &str) -> Result<IpNet, NetError> {
        Self::parse_with(s, false)
    }

    /// As [`IpNet::parse`], but host bits set under the prefix are cleared: `192.0.2.77/24` is `192.0.2.0/24`.
    pub fn parse_truncating(s: &str) -> Result<IpNet, NetError> {
        Self::parse_with(s, true)
    }

    fn parse_with(s: &str, truncate: bool) -> Result<IpNet, NetError> {
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| NetError::Address(addr_text.to_string()))?;
        let Some(p) = prefix_text else { return Ok(IpNet::host(addr)) };
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p.parse::<u8>() {
            Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(NetError::Prefix { prefix: p.to_string(), max }),
        };
        let bits = to_u128(addr);
        let len = prefix + (128 - max);
        let net = IpNet { bits: bits & mask(len), len };
        if !truncate && net.bits != bits {
            return Err(NetError::HostBits { text: s.to_string(), prefix, network: net });
        }
        Ok(net)
    }

    /// A single address.
    pub fn host(addr: IpAddr) -> IpNet {
        IpNet { bits: to_u128(addr), len: 128 }
    }

    /// True for an IPv4 network (written as IPv4 or as IPv4-mapped IPv6).
    pub fn is_ipv4(&self) -> bool {
        self.len >= 96 && self.bits >> 32 == 0xffff
    }

    /// The prefix length in the network's own family: 0 to 32 for IPv4, 0 to 128 for IPv6.
    pub fn prefix(&self) -> u8 {
        if self.is_ipv4() { self.len - 96 } else { self.len }
    }

    /// The longest prefix of the family: 32 or 128.
    pub fn max_prefix(&self) -> u8 {
        if self.is_ipv4() { 32 } else { 128 }
    }

    /// Bits of the address not fixed by the prefix: the network holds 2^`host_bits()` addresses.
    pub fn host_bits(&self) -> u32 {
        128 - u32::from(self.len)
    }

    /// True for a single address.
    pub fn is_host(&self) -> bool {
        self.len == 128
    }

    /// The first address: the network address.
    pub fn first(&self) -> IpAddr {
        from_u128(self.bits)
    }

    /// The last address (the broadcast address of an IPv4 network).
    pub fn last(&self) -> IpAddr {
        from_u128(self.bits | !mask(self.len))
    }

    /// The number of addresses. `::/0` holds 2^128, one more than a `u128` counts: its size saturates at
    /// `u128::MAX`. Use [`IpNet::host_bits`] where the exact count matters at that scale.
    pub fn size(&self) -> u128 {
        1u128.checked_shl(self.host_bits()).unwrap_or(u128::MAX)
    }

    /// The address `i` places after the first, if the network holds it.
    pub fn nth(&self, i: u128) -> Option<IpAddr> {
        (i <= !mask(self.len)).then(|| from_u128(self.bits + i))
    }

    /// True when `ip` is in this network. An IPv4 address and its IPv4-mapped IPv6 form are the same address; an
    /// IPv6 network that covers `::ffff:0:0/96` (`::/0`) so contains IPv4 addresses.
    pub fn contains(&self, ip: IpAddr) -> bool {
        (to_u128(ip) ^ self.bits) & mask(self.len) == 0
    }

    /// True when every address of `other` is in this network.
    pub fn contains_net(&self, other: &IpNet) -> bool {
        self.len <= other.len && (other.bits ^ self.bits) & mask(self.len) == 0
    }

    /// Every address, in order (lazily: a large IPv6 network is fine to hold, not to walk).
    pub fn addrs(&self) -> impl DoubleEndedIterator<Item = IpAddr> + use<> {
        (self.bits..=self.bits | !mask(self.len)).map(from_u128)
    }
}

impl From<IpAddr> for IpNet {
    fn from(addr: IpAddr) -> IpNet {
        IpNet::host(addr)
    }
}

impl FromStr for IpNet {
    type Err = NetError;
    /// Strict: see [`IpNet::parse`].
    fn from_str(s: &str) -> Result<IpNet, NetError> {
        IpNet::parse(s)
    }
}

/// `1.2.3.4` for an address, `1.2.3.0/24` for a network; IPv4 (mapped or not) always as IPv4.
impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first())?;
        if !self.is_host() {
            write!(f, "/{}", self.prefix())?;
        }
        Ok(())
    }
}

impl Serialize for IpNet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        IpNet::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn net(s: &str) -> IpNet {
        IpNet::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn contains_for_both_families_and_the_mapped_spelling() {
        let n = net("203.0.113.0/24");
        assert!(n.contains(ip("203.0.113.77")));
        assert!(n.contains(ip("::ffff:203.0.113.77")));
        assert!(!n.contains(ip("203.0.114.1")));
        assert!(!n.contains(ip("2001:db8::1")));
        let v6 = net("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::")));
        assert!(!v6.contains(ip("203.0.113.77")));
        assert!(!net("::1").contains(ip("0.0.0.1")), "the loopback address is not IPv4-compatible `::0.0.0.1`");
    }

    #[test]
    fn slash_zero_is_its_whole_family() {
        let v4 = net("0.0.0.0/0");
        assert!(v4.is_ipv4());
        assert!(v4.contains(ip("8.8.8.8")) && v4.contains(ip("255.255.255.255")));
        assert!(!v4.contains(ip("2001:db8::1")), "all of IPv4 is not all of IPv6");
        assert_eq!((v4.first(), v4.last()), (ip("0.0.0.0"), ip("255.255.255.255")));
        assert_eq!((v4.size(), v4.host_bits(), v4.prefix()), (1 << 32, 32, 0));
        assert_eq!(v4.to_string(), "0.0.0.0/0");

        let v6 = net("::/0");
        assert!(!v6.is_ipv4());
        assert!(v6.contains(ip("2001:db8::1")));
        assert!(v6.contains(ip("8.8.8.8")), "IPv4 is a part of the IPv6 space");
        assert_eq!((v6.host_bits(), v6.size()), (128, u128::MAX), "2^128 saturates");
        assert_eq!(v6.last(), ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert_eq!(v6.to_string(), "::/0");
        assert_eq!(net("::/0").nth(u128::MAX), Some(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
    }

    #[test]
    fn a_full_prefix_is_one_address() {
        for (text, shown) in [("192.0.2.7/32", "192.0.2.7"), ("2001:db8::1/128", "2001:db8::1")] {
            let n = net(text);
            assert!(n.is_host(), "{text}");
            assert_eq!(n, IpNet::host(ip(shown)));
            assert_eq!(n.to_string(), shown);
            assert_eq!((n.size(), n.host_bits()), (1, 0));
            assert_eq!(n.first(), n.last());
            assert_eq!(n.addrs().collect::<Vec<_>>(), [ip(shown)]);
            assert!(n.contains(ip(shown)));
        }
        assert_eq!(net("192.0.2.7").prefix(), 32);
        assert_eq!(net("2001:db8::1").prefix(), 128);
    }

    #[test]
    fn host_bits_are_an_error_or_cleared() {
        let e = IpNet::parse("10.1.2.3/8").expect_err("host bits");
        assert_eq!(e.to_string(), "`10.1.2.3/8` has host bits set under its /8 prefix; the network is `10.0.0.0/8`");
        assert!(matches!(e, NetError::HostBits { prefix: 8, network, .. } if network == net("10.0.0.0/8")));
        assert_eq!(IpNet::parse_truncating("10.1.2.3/8"), Ok(net("10.0.0.0/8")));
        assert_eq!(IpNet::parse_truncating("192.0.2.77/24").expect("truncates").to_string(), "192.0.2.0/24");
        assert_eq!(IpNet::parse_truncating("2001:db8::77/64"), Ok(net("2001:db8::/64")));
        assert!(IpNet::parse("2001:db8::77/64").is_err());
        assert_eq!(IpNet::parse_truncating("8.8.8.8/0"), Ok(net("0.0.0.0/0")));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_ipv4() {
        assert_eq!(net("::ffff:1.2.3.4"), net("1.2.3.4"));
        assert_eq!(net("::ffff:1.2.3.4").to_string(), "1.2.3.4");
        let mapped = net("::ffff:192.0.2.0/120");
        assert_eq!(mapped, net("192.0.2.0/24"));
        assert!(mapped.is_ipv4());
        assert_eq!((mapped.prefix(), mapped.max_prefix()), (24, 32));
        assert_eq!(mapped.to_string(), "192.0.2.0/24");
        assert!(mapped.contains(ip("192.0.2.9")));
        assert_eq!(net("::ffff:0:0/96"), net("0.0.0.0/0"));
        // Wider than the mapped block: IPv6, and it holds every IPv4 address.
        assert!(IpNet::parse("::ffff:0:0/95").is_err(), "bit 32 is a host bit of a /95");
        let wide = net("::fffe:0:0/95");
        assert!(!wide.is_ipv4());
        assert!(wide.contains(ip("1.2.3.4")));
        assert_eq!(wide.to_string(), "::fffe:0:0/95");
        // The deprecated IPv4-compatible form is an IPv6 address of its own.
        assert!(!net("::1.2.3.4").is_ipv4());
        assert_ne!(net("::1.2.3.4"), net("1.2.3.4"));
        assert_eq!(from_u128(to_u128(ip("::ffff:9.9.9.9"))), ip("9.9.9.9"));
        assert_eq!(from_u128(to_u128(ip("2001:db8::1"))), ip("2001:db8::1"));
    }

    #[test]
    fn garbage_is_refused_with_what_is_wrong() {
        let err = |s: &str| IpNet::parse(s).expect_err(s).to_string();
        assert_eq!(err("103.77.192.300"), "`103.77.192.300` is not an IPv4 or IPv6 address");
        assert_eq!(err("34.90.207[.]23"), "`34.90.207[.]23` is not an IPv4 or IPv6 address");
        assert_eq!(err("example.com/24"), "`example.com` is not an IPv4 or IPv6 address");
        assert_eq!(err(""), "`` is not an IPv4 or IPv6 address");
        assert_eq!(err(" 1.2.3.4"), "` 1.2.3.4` is not an IPv4 or IPv6 address");
        assert_eq!(err("10.0.0.0/33"), "prefix length `/33` is not a number from 0 to 32");
        assert_eq!(err("2001:db8::/129"), "prefix length `/129` is not a number from 0 to 128");
        assert_eq!(err("10.0.0.0/"), "prefix length `/` is not a number from 0 to 32");
        assert_eq!(err("10.0.0.0/+8"), "prefix length `/+8` is not a number from 0 to 32");
        assert_eq!(err("10.0.0.0/-1"), "prefix length `/-1` is not a number from 0 to 32");
        assert_eq!(err("10.0.0.0/8/8"), "prefix length `/8/8` is not a number from 0 to 32");
        assert_eq!(err("10.0.0.0/999"), "prefix length `/999` is not a number from 0 to 32");
        assert!(IpNet::parse_truncating("10.0.0.0/33").is_err());
        assert!("1.2.3.4 ".parse::<IpNet>().is_err());
    }

    #[test]
    fn addresses_in_order_and_by_index() {
        let n = net("192.0.2.252/30");
        let all: Vec<IpAddr> = n.addrs().collect();
        assert_eq!(all, ["192.0.2.252", "192.0.2.253", "192.0.2.254", "192.0.2.255"].map(ip));
        assert_eq!(n.addrs().next_back(), Some(ip("192.0.2.255")));
        assert_eq!(n.nth(0), Some(ip("192.0.2.252")));
        assert_eq!(n.nth(3), Some(ip("192.0.2.255")));
        assert_eq!(n.nth(4), None);
        assert_eq!((n.first(), n.last(), n.size()), (ip("192.0.2.252"), ip("192.0.2.255"), 4));
        let v6: Vec<IpAddr> = net("2001:db8::/127").addrs().collect();
        assert_eq!(v6, ["2001:db8::", "2001:db8::1"].map(ip));
        assert_eq!(net("255.255.255.254/31").addrs().count(), 2, "no overflow at the top of the space");
        assert_eq!(net("127.0.0.0/8").addrs().count(), 1 << 24);
    }

    #[test]
    fn networks_within_networks() {
        let lo = net("127.0.0.0/8");
        assert!(lo.contains_net(&net("127.1.0.0/16")));
        assert!(lo.contains_net(&lo));
        assert!(lo.contains_net(&net("127.255.255.255")));
        assert!(!lo.contains_net(&net("126.0.0.0/7")));
        assert!(!lo.contains_net(&net("0.0.0.0/0")));
        assert!(net("::/0").contains_net(&lo));
        assert!(!lo.contains_net(&net("::1")));
    }

    #[test]
    fn string_form_in_serde_and_display_round_trips() {
        for s in ["1.2.3.4", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::/32", "::1", "::/0", "fe80::/10"] {
            let n = net(s);
            assert_eq!(n.to_string(), s);
            assert_eq!(net(&n.to_string()), n);
            let json = serde_json::to_string(&n).expect("serialize");
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<IpNet>(&json).expect("deserialize"), n);
        }
        let e = serde_json::from_str::<IpNet>("\"10.1.2.3/8\"").expect_err("strict");
        assert!(e.to_string().contains("host bits"), "{e}");
        assert!(serde_json::from_str::<IpNet>("17").is_err());
        assert_eq!(IpNet::from(ip("::ffff:1.1.1.1")), net("1.1.1.1"));
    }

    #[test]
    fn order_is_by_first_address_then_prefix() {
        let mut v = vec![net("10.0.0.128/25"), net("10.0.0.0/25"), net("10.0.0.0/24"), net("9.0.0.0/8")];
        v.sort();
        assert_eq!(v, [net("9.0.0.0/8"), net("10.0.0.0/24"), net("10.0.0.0/25"), net("10.0.0.128/25")]);
    }
}
