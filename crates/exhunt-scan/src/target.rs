//! Targets: addresses, CIDR ranges (IPv4 and IPv6), host names and files of them, crossed with ports, walked in a
//! seeded permuted order ([`crate::permute`]), sharded, with the blocklist applied before anything else.
//!
//! Host names are collected while the targets are parsed and resolved afterwards, all together
//! ([`TargetSet::resolve`]: at most [`RESOLVE_CONCURRENCY`] lookups at once, each under a deadline), before the walk
//! is built. A resolved name takes its place in the list where it was named, so the walk is the one the same
//! addresses given directly would make; every address it has is an explicit target (a blocked one is reported). A
//! name that does not resolve is an [`Unresolved`]: not a target, since it has no address to scan.

use crate::blocklist::Blocklist;
use crate::error::ScanError;
use crate::permute::Cycle;
use exhunt_model::net::IpNet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// Host names looked up at once by default.
pub const RESOLVE_CONCURRENCY: usize = 64;

/// Time for one name's lookup by default.
pub const RESOLVE_DEADLINE: Duration = Duration::from_secs(5);

/// One entry of the target list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its addresses: a CIDR range, or one address.
    pub net: IpNet,
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
    /// Prefix sums of `entries[i].len()`.
    starts: Vec<u64>,
    total_addrs: u64,
    /// Host names waiting for [`TargetSet::resolve`], each with its place: the number of entries before it.
    pending: Vec<(usize, String)>,
}

/// A host name that gave no address: reported to the user, never scanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// The name, lower case.
    pub name: String,
    pub reason: Unresolvable,
}

/// Why a name gave no address.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unresolvable {
    /// The resolver failed (no such name, no answer, no resolver): its message.
    Lookup(String),
    /// The resolver answered without an address.
    NoAddress,
    /// No answer within the deadline.
    Timeout(Duration),
}

impl std::fmt::Display for Unresolvable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolvable::Lookup(e) => write!(f, "cannot resolve: {e}"),
            Unresolvable::NoAddress => f.write_str("the name has no address"),
            Unresolvable::Timeout(d) => write!(f, "no answer from the resolver within {} s", d.as_secs_f64()),
        }
    }
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.name, self.reason)
    }
}

/// The largest range one entry may hold is 2^40 addresses (an IPv6 /88 or larger is refused).
const MAX_HOST_BITS: u32 = 40;

impl Entry {
    /// Number of addresses (at most 2^40).
    pub fn len(&self) -> u64 {
        self.net.size() as u64
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl TargetSet {
    pub fn new(ports: Vec<u16>) -> TargetSet {
        TargetSet { ports, ..TargetSet::default() }
    }

    /// Adds one target string: an address, a CIDR range or a host name (kept for [`TargetSet::resolve`]). Host
    /// bits under a range's prefix are ignored (`192.0.2.77/24` is `192.0.2.0/24`).
    pub fn add(&mut self, s: &str) -> Result<(), ScanError> {
        let s = s.trim();
        let err = |reason: String| ScanError::Target { target: s.to_string(), reason };
        if s.contains('/') || s.parse::<IpAddr>().is_ok() {
            let net = IpNet::parse_truncating(s).map_err(|e| err(e.to_string()))?;
            if net.host_bits() > MAX_HOST_BITS {
                return Err(err(format!("2^{} addresses is more than 2^{MAX_HOST_BITS}", net.host_bits())));
            }
            self.push(Entry { net, name: None, explicit: !s.contains('/') });
            return Ok(());
        }
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(err("not an address, a CIDR range or a host name".into()));
        }
        self.pending.push((self.entries.len(), s.to_ascii_lowercase()));
        Ok(())
    }

    /// Host names added and not resolved yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Resolves every host name added so far, `concurrency` lookups at once, each given `deadline`; a name named
    /// twice is looked up once. Every address of a name becomes an explicit target in the name's place. Returns
    /// the names that gave no address, in the order they were named.
    ///
    /// A lookup past its deadline is abandoned, but the system resolver's thread behind it runs on until the
    /// resolver gives up (`getaddrinfo` cannot be cancelled).
    pub async fn resolve(&mut self, concurrency: usize, deadline: Duration) -> Vec<Unresolved> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Vec::new();
        }
        let mut names: Vec<&str> = pending.iter().map(|(_, n)| n.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut lookups = tokio::task::JoinSet::new();
        for (i, name) in names.iter().enumerate() {
            let permit = sem.clone().acquire_owned().await.expect("invariant: the semaphore is never closed");
            let name = name.to_string();
            lookups.spawn(async move {
                let r = lookup(&name, deadline).await;
                drop(permit);
                (i, r)
            });
        }
        let mut results: Vec<Option<Result<Vec<IpAddr>, Unresolvable>>> = vec![None; names.len()];
        while let Some(joined) = lookups.join_next().await {
            match joined {
                Ok((i, r)) => results[i] = Some(r),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        let result_of = |name: &str| {
            let i = names.binary_search(&name).expect("invariant: every pending name was looked up");
            results[i].as_ref().expect("invariant: every lookup was joined")
        };
        // Rebuild the list with each name's addresses in its place.
        let old = std::mem::take(&mut self.entries);
        (self.starts, self.total_addrs) = (Vec::new(), 0);
        let mut unresolved = Vec::new();
        let mut names_at = pending.iter().peekable();
        for (at, entry) in old.into_iter().map(Some).chain([None]).enumerate() {
            while let Some((_, name)) = names_at.next_if(|(place, _)| *place == at) {
                match result_of(name) {
                    Ok(ips) => {
                        for ip in ips {
                            self.push(Entry { net: IpNet::host(*ip), name: Some(name.clone()), explicit: true });
                        }
                    }
                    Err(reason) => unresolved.push(Unresolved { name: name.clone(), reason: reason.clone() }),
                }
            }
            if let Some(e) = entry {
                self.push(e);
            }
        }
        unresolved
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
        self.total_addrs += e.len();
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
        let ip = entry.net.nth(u128::from(a - self.starts[e])).expect("invariant: the index is inside its entry");
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
        if !set.pending.is_empty() {
            return Err(ScanError::Option {
                name: "targets",
                reason: format!("{} host names not resolved: call `TargetSet::resolve` first", set.pending.len()),
            });
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

/// The addresses of one name, sorted, or why there are none.
async fn lookup(name: &str, deadline: Duration) -> Result<Vec<IpAddr>, Unresolvable> {
    settle(tokio::net::lookup_host((name, 0)), deadline).await
}

/// A lookup's answer under its deadline.
async fn settle<I: Iterator<Item = std::net::SocketAddr>>(
    lookup: impl Future<Output = std::io::Result<I>>,
    deadline: Duration,
) -> Result<Vec<IpAddr>, Unresolvable> {
    match tokio::time::timeout(deadline, lookup).await {
        Err(_) => Err(Unresolvable::Timeout(deadline)),
        Ok(Err(e)) => Err(Unresolvable::Lookup(e.to_string())),
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.sort_unstable();
            ips.dedup();
            if ips.is_empty() { Err(Unresolvable::NoAddress) } else { Ok(ips) }
        }
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
        t.add("192.0.2.77/31").expect("host bits under the prefix");
        assert_eq!(t.get(9).0.ip, "192.0.2.76".parse::<IpAddr>().expect("ip"));
        assert_eq!(t.len(), 11);
        let reason = |s: &str| t.clone().add(s).expect_err(s).to_string();
        assert_eq!(reason("10.0.0.0/33"), "target `10.0.0.0/33`: prefix length `/33` is not a number from 0 to 32");
        assert_eq!(reason("2001:db8::/8"), "target `2001:db8::/8`: 2^120 addresses is more than 2^40");
        assert_eq!(reason("2001:db8::/87"), "target `2001:db8::/87`: 2^41 addresses is more than 2^40");
        assert!(t.clone().add("2001:db8::/88").is_ok(), "2^40 is the limit");
        assert_eq!(reason("bad name!"), "target `bad name!`: not an address, a CIDR range or a host name");
        assert_eq!(reason("example.com/24"), "target `example.com/24`: `example.com` is not an IPv4 or IPv6 address");
    }

    #[tokio::test]
    async fn names_resolve_together_in_their_place_and_the_blocklist_still_applies() {
        let mut t = TargetSet::new(vec![443, 8443]);
        t.add("192.0.2.1").expect("address");
        t.add("LOCALHOST").expect("name"); // resolves through /etc/hosts, no network
        t.add("198.51.100.0/31").expect("range");
        t.add("exhunt-test.invalid").expect("name"); // RFC 6761: never resolves
        t.add("localhost").expect("the same name again");
        assert_eq!((t.pending(), t.len()), (3, 6), "names wait for `resolve`");
        let block = Blocklist::new(false);
        assert!(ShardIter::new(&t, &block, 1, 0, 1).is_err(), "a walk over unresolved names");

        let unresolved = t.resolve(RESOLVE_CONCURRENCY, RESOLVE_DEADLINE).await;
        assert_eq!(unresolved.len(), 1, "{unresolved:?}");
        assert_eq!(unresolved[0].name, "exhunt-test.invalid");
        assert!(matches!(unresolved[0].reason, Unresolvable::Lookup(_) | Unresolvable::Timeout(_)), "{unresolved:?}");
        assert_eq!(t.pending(), 0);
        // In the order named: the address, localhost's addresses, the range, localhost's addresses again.
        let local: Vec<&Entry> = t.entries.iter().filter(|e| e.name.is_some()).collect();
        assert!(!local.is_empty() && local.len().is_multiple_of(2), "{:?}", t.entries);
        let n = local.len() / 2;
        assert!(local.iter().all(|e| e.name.as_deref() == Some("localhost") && e.explicit && e.net.is_host()));
        assert!(local.iter().any(|e| e.net.first() == IpAddr::from([127, 0, 0, 1])), "{local:?}");
        assert_eq!(t.entries[0].net, IpNet::host(IpAddr::from([192, 0, 2, 1])));
        assert_eq!(t.entries[1 + n].len(), 2, "the range keeps its place after the name's addresses");
        assert_eq!(t.len(), (1 + 2 + 2 * n as u64) * 2);

        // The blocklist applies to the name's addresses as to any address: reported blocked, with the name.
        let items: Vec<Item> = ShardIter::new(&t, &block, 1, 0, 1).expect("walk").collect();
        let blocked: Vec<&Target> =
            items.iter().filter_map(|i| if let Item::Blocked(t) = i { Some(t) } else { None }).collect();
        let named: Vec<&&Target> = blocked.iter().filter(|t| t.name.is_some()).collect();
        assert_eq!(named.len(), 2 * n * 2, "{items:?}");
        assert!(named.iter().all(|t| t.name.as_deref() == Some("localhost") && t.ip.is_loopback()), "{named:?}");
        assert!(!items.iter().any(|i| matches!(i, Item::Scan { .. })), "every address here is reserved: {items:?}");
        let open = Blocklist::new(true);
        let scanned = ShardIter::new(&t, &open, 1, 0, 1).expect("walk").filter(|i| matches!(i, Item::Scan { .. }));
        assert_eq!(scanned.count() as u64, t.len());
    }

    #[tokio::test]
    async fn a_lookup_past_its_deadline_is_a_timeout_and_an_empty_answer_no_address() {
        type Answer = std::io::Result<std::vec::IntoIter<std::net::SocketAddr>>;
        let deadline = Duration::from_millis(10);
        let never = std::future::pending::<Answer>();
        assert_eq!(settle(never, deadline).await, Err(Unresolvable::Timeout(deadline)));
        let empty = async { Answer::Ok(Vec::new().into_iter()) };
        assert_eq!(settle(empty, deadline).await, Err(Unresolvable::NoAddress));
        let twice = "[2001:db8::1]:0 192.0.2.1:0 [2001:db8::1]:0".split(' ').map(|a| a.parse().expect("addr"));
        let answer = async { Answer::Ok(twice.collect::<Vec<_>>().into_iter()) };
        let want: Vec<IpAddr> = vec![IpAddr::from([192, 0, 2, 1]), "2001:db8::1".parse().expect("ip")];
        assert_eq!(settle(answer, deadline).await, Ok(want));
        assert_eq!(Unresolvable::Timeout(Duration::from_secs(5)).to_string(), "no answer from the resolver within 5 s");
    }

    #[test]
    fn ports() {
        assert_eq!(parse_ports("443, 8443,80-82").expect("p"), vec![80, 81, 82, 443, 8443]);
        assert!(parse_ports("0").is_err());
    }
}
