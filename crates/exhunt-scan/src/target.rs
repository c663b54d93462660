//! Targets: addresses, CIDR ranges (IPv4 and IPv6), host names and files of them, crossed with ports, walked in a
//! seeded permuted order ([`crate::permute`]), sharded, with the blocklist applied before anything else.

use crate::blocklist::Blocklist;
use crate::error::ScanError;
use crate::permute::Cycle;
use std::net::{IpAddr, Ipv6Addr, ToSocketAddrs};
use std::path::Path;

/// An address range in the IPv6 space (IPv4 as `::ffff:a.b.c.d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    pub first: u128,
    pub last: u128,
}

pub fn ip_to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

pub fn u128_to_ip(x: u128) -> IpAddr {
    let v6 = Ipv6Addr::from(x);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// Parses `ADDR` or `ADDR/LEN`.
pub fn parse_net(s: &str) -> Result<Net, String> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len.parse::<u32>().map_err(|_| format!("bad prefix length `{len}`"))?)),
        None => (s, None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| "not an IP address".to_string())?;
    let bits = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let len = len.unwrap_or(bits);
    if len > bits {
        return Err(format!("prefix /{len} is longer than {bits} bits"));
    }
    let host_bits = bits - len;
    let mask: u128 = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
    let x = ip_to_u128(ip);
    Ok(Net { first: x & !mask, last: (x & !mask) | mask })
}

/// One entry of the target list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub first: u128,
    /// Number of addresses.
    pub len: u64,
    /// The host name it was resolved from.
    pub name: Option<String>,
    /// A single address given explicitly (a blocked one is reported, not silently skipped).
    pub explicit: bool,
}

/// One target: an address, a port, and the name it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub ip: IpAddr,
    pub port: u16,
    pub name: Option<String>,
}

/// The whole target list with its ports.
#[derive(Clone, Debug, Default)]
pub struct TargetSet {
    pub entries: Vec<Entry>,
    pub ports: Vec<u16>,
    /// Prefix sums of `entries[i].len`.
    starts: Vec<u64>,
    total_addrs: u64,
}

/// The largest range one entry may hold (an IPv6 /88 or larger is refused).
const MAX_ENTRY: u128 = 1 << 40;

impl TargetSet {
    pub fn new(ports: Vec<u16>) -> TargetSet {
        TargetSet { ports, ..TargetSet::default() }
    }

    /// Adds one target string: an address, a CIDR range or a host name (resolved now, every address).
    pub fn add(&mut self, s: &str) -> Result<(), ScanError> {
        let s = s.trim();
        let err = |reason: String| ScanError::Target { target: s.to_string(), reason };
        if s.contains('/') || s.parse::<IpAddr>().is_ok() {
            let net = parse_net(s).map_err(err)?;
            let len = net.last - net.first + 1;
            if len > MAX_ENTRY {
                return Err(err(format!("{len} addresses is more than 2^40")));
            }
            self.push(Entry { first: net.first, len: len as u64, name: None, explicit: !s.contains('/') });
            return Ok(());
        }
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(err("not an address, a CIDR range or a host name".into()));
        }
        let addrs = (s, 0).to_socket_addrs().map_err(|e| err(format!("cannot resolve: {e}")))?;
        let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
        ips.sort();
        ips.dedup();
        if ips.is_empty() {
            return Err(err("the name has no address".into()));
        }
        for ip in ips {
            self.push(Entry { first: ip_to_u128(ip), len: 1, name: Some(s.to_ascii_lowercase()), explicit: true });
        }
        Ok(())
    }

    /// Adds every line of a file (`#` starts a comment).
    pub fn add_file(&mut self, path: &Path) -> Result<(), ScanError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ScanError::Read { path: path.to_path_buf(), source })?;
        for (i, line) in text.lines().enumerate() {
            let t = line.split('#').next().unwrap_or("").trim();
            if t.is_empty() {
                continue;
            }
            self.add(t).map_err(|e| ScanError::FileLine {
                path: path.to_path_buf(),
                line: i + 1,
                text: t.to_string(),
                reason: match e {
                    ScanError::Target { reason, .. } => reason,
                    other => other.to_string(),
                },
            })?;
        }
        Ok(())
    }

    fn push(&mut self, e: Entry) {
        self.starts.push(self.total_addrs);
        self.total_addrs += e.len;
        self.entries.push(e);
    }

    /// Targets × ports.
    pub fn len(&self) -> u64 {
        self.total_addrs * self.ports.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The target at an index of `0..len()`; `explicit` tells whether its address was named on its own.
    pub fn get(&self, index: u64) -> (Target, bool) {
        let np = self.ports.len() as u64;
        let (a, pi) = (index / np, (index % np) as usize);
        let e = self.starts.partition_point(|s| *s <= a) - 1;
        let entry = &self.entries[e];
        let ip = u128_to_ip(entry.first + u128::from(a - self.starts[e]));
        (Target { ip, port: self.ports[pi], name: entry.name.clone() }, entry.explicit)
    }
}

/// What the walk yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A target to scan; `seq` counts the scanned targets of this shard in walk order (resume uses it).
    Scan { seq: u64, target: Target },
    /// An explicitly named target that the blocklist removes: reported with status `blocked`, never contacted.
    Blocked(Target),
}

/// The targets of one shard (and one of `workers` workers in it), in permuted order, blocklist applied first.
pub struct ShardIter<'a> {
    set: &'a TargetSet,
    block: &'a Blocklist,
    walk: crate::permute::Walk,
    seq: u64,
    seq_step: u64,
    /// Targets removed by the blocklist so far.
    pub blocked: u64,
}

impl<'a> ShardIter<'a> {
    /// Shard `shard` of `shards` (0-based). `seq` numbers count every scanned target of the shard.
    pub fn new(
        set: &'a TargetSet,
        block: &'a Blocklist,
        seed: u64,
        shard: u64,
        shards: u64,
    ) -> Result<ShardIter<'a>, ScanError> {
        Self::worker(set, block, seed, shard, shards, 0, 1)
    }

    /// Worker `worker` of `workers` inside a shard. Its `seq` numbers are not the shard's: use [`ShardIter::new`]
    /// when resuming matters.
    pub fn worker(
        set: &'a TargetSet,
        block: &'a Blocklist,
        seed: u64,
        shard: u64,
        shards: u64,
        worker: u64,
        workers: u64,
    ) -> Result<ShardIter<'a>, ScanError> {
        if shards == 0 || shard >= shards {
            return Err(ScanError::Option { name: "shard", reason: format!("{}/{shards}", shard + 1) });
        }
        if workers == 0 || worker >= workers {
            return Err(ScanError::Option { name: "workers", reason: format!("{worker} of {workers}") });
        }
        let cycle = Cycle::new(set.len(), seed)?;
        let walk = cycle.walk(shard + shards * worker, shards * workers);
        Ok(ShardIter { set, block, walk, seq: 0, seq_step: 1, blocked: 0 })
    }
}

impl Iterator for ShardIter<'_> {
    type Item = Item;
    fn next(&mut self) -> Option<Item> {
        for index in self.walk.by_ref() {
            let (target, explicit) = self.set.get(index);
            if self.block.contains(target.ip) {
                self.blocked += 1;
                if explicit {
                    return Some(Item::Blocked(target));
                }
                continue;
            }
            let seq = self.seq;
            self.seq += self.seq_step;
            return Some(Item::Scan { seq, target });
        }
        None
    }
}

/// Parses `-p 443,8443,1000-1002`.
pub fn parse_ports(s: &str) -> Result<Vec<u16>, ScanError> {
    let err = |reason: &str| ScanError::Option { name: "ports", reason: format!("`{s}`: {reason}") };
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) =
                    (a.parse().map_err(|_| err("bad port"))?, b.parse().map_err(|_| err("bad port"))?);
                if a == 0 || a > b {
                    return Err(err("bad range"));
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok().filter(|p| *p != 0).ok_or_else(|| err("bad port"))?),
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(err("no port"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_addresses() {
        let mut t = TargetSet::new(vec![443]);
        t.add("192.0.2.0/30").expect("v4");
        t.add("2001:db8::/126").expect("v6");
        t.add("198.51.100.7").expect("one");
        assert_eq!(t.len(), 9);
        assert_eq!(t.get(0).0.ip, "192.0.2.0".parse::<IpAddr>().expect("ip"));
        assert_eq!(t.get(5).0.ip, "2001:db8::1".parse::<IpAddr>().expect("ip"));
        assert!(t.get(8).1);
        assert!(t.add("10.0.0.0/33").is_err());
        assert!(t.add("2001:db8::/8").is_err());
        assert!(t.add("bad name!").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(parse_ports("443, 8443,80-82").expect("p"), vec![80, 81, 82, 443, 8443]);
        assert!(parse_ports("0").is_err());
    }
}
