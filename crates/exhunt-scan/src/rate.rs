//! `--per-host-rate`: requests per second to one address, across every port and target of the scan.
//!
//! A target is an (address, port) pair, and `-p 443,8443` puts two targets of one address in flight at once; a
//! limit kept per target would let them together send twice the rate. So the limit is kept per address, in one
//! [`HostLimiter`] shared by every ladder of the scan: a map from address to the next instant a request may go,
//! split into shards under their own locks so that a thousand targets in flight do not queue on one mutex.
//!
//! Each request reserves the next free instant of its address (a virtual schedule, as a GCRA limiter does) and
//! sleeps until then; the lock is never held across the sleep. An address stays in the map while a target of it
//! is in flight ([`HostGuard`]) and, after its last target ended, only until its next free instant has passed:
//! later it would wait for nothing. Entries left by targets that ended early are swept when their shard has doubled
//! since its last sweep, so the map holds the addresses in flight (plus those of the last gap), never every address
//! the scan has met.
//!
//! A gap of zero (`--per-host-rate 0`) is no limit and costs nothing: no map, no lock, no clock read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Shards of the map (a power of two).
const SHARDS: usize = 64;

/// Least size of a shard before it is swept for entries nobody needs any more.
const SWEEP_FLOOR: usize = 64;

/// The per-address schedule of one scan.
#[derive(Debug)]
pub struct HostLimiter {
    gap: Duration,
    /// Empty when `gap` is zero.
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Debug, Default)]
struct Shard {
    hosts: HashMap<IpAddr, Slot>,
    /// Sweep when `hosts` grows past this.
    sweep_at: usize,
}

#[derive(Debug)]
struct Slot {
    /// The first instant the next request to the address may be sent.
    next: Instant,
    /// Targets of the address in flight.
    holders: u32,
}

impl Shard {
    /// Drops every address with no target in flight whose next free instant has passed.
    fn sweep(&mut self, now: Instant) {
        self.hosts.retain(|_, s| s.holders > 0 || s.next > now);
        self.sweep_at = (2 * self.hosts.len()).max(SWEEP_FLOOR);
    }
}

impl HostLimiter {
    /// At least `gap` between two requests to one address; zero is no limit.
    pub fn new(gap: Duration) -> HostLimiter {
        let shards = if gap.is_zero() { Box::default() } else { (0..SHARDS).map(|_| Mutex::default()).collect() };
        HostLimiter { gap, shards }
    }

    /// `rate` requests per second to one address; 0 is no limit.
    pub fn per_second(rate: u64) -> HostLimiter {
        HostLimiter::new(if rate == 0 { Duration::ZERO } else { Duration::from_secs_f64(1.0 / rate as f64) })
    }

    /// No limit.
    pub fn unlimited() -> HostLimiter {
        HostLimiter::new(Duration::ZERO)
    }

    /// The least time between two requests to one address.
    pub fn gap(&self) -> Duration {
        self.gap
    }

    /// Registers a target of `ip` for as long as the guard lives; its requests go through [`HostGuard::wait`].
    pub fn enter(&self, ip: IpAddr) -> HostGuard<'_> {
        if self.gap.is_zero() {
            return HostGuard { limiter: None, ip };
        }
        let mut shard = self.shard(ip);
        let now = Instant::now();
        shard.hosts.entry(ip).or_insert(Slot { next: now, holders: 0 }).holders += 1;
        if shard.hosts.len() > shard.sweep_at {
            shard.sweep(now);
        }
        HostGuard { limiter: Some(self), ip }
    }

    /// Addresses held in the map, after dropping those nobody needs any more (for tests and diagnostics).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.shards
            .iter()
            .map(|s| {
                let mut s = lock(s);
                s.sweep(now);
                s.hosts.len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, ip: IpAddr) -> MutexGuard<'_, Shard> {
        let x = exhunt_model::net::to_u128(ip);
        let h = ((x as u64) ^ ((x >> 64) as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        lock(&self.shards[(h >> 58) as usize & (SHARDS - 1)])
    }
}

/// One target's hold on its address in a [`HostLimiter`].
#[derive(Debug)]
pub struct HostGuard<'a> {
    /// `None` when there is no limit.
    limiter: Option<&'a HostLimiter>,
    ip: IpAddr,
}

impl HostGuard<'_> {
    /// Reserves the next free instant for a request to the address, and returns it (now or later). Each call
    /// reserves one request: the next call of any target of the address gets an instant at least one gap later.
    pub fn reserve(&self) -> Option<Instant> {
        let limiter = self.limiter?;
        let now = Instant::now();
        let mut shard = limiter.shard(self.ip);
        let slot = shard.hosts.get_mut(&self.ip).expect("invariant: a guard's address stays in the map");
        let at = slot.next.max(now);
        slot.next = at + limiter.gap;
        Some(at)
    }

    /// Waits for the next free instant of the address: call it right before sending a request.
    pub async fn wait(&self) {
        if let Some(at) = self.reserve() {
            tokio::time::sleep_until(at).await;
        }
    }
}

impl Drop for HostGuard<'_> {
    fn drop(&mut self) {
        let Some(limiter) = self.limiter else { return };
        let mut shard = limiter.shard(self.ip);
        if let Some(slot) = shard.hosts.get_mut(&self.ip) {
            slot.holders -= 1;
            // Still needed until `next` has passed: a new target of the address must keep the spacing.
            if slot.holders == 0 && slot.next <= Instant::now() {
                shard.hosts.remove(&self.ip);
            }
        }
    }
}

/// A lock that a panicked holder did not poison for good (the data is instants and counters).
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn one_address_is_spaced_by_the_gap_across_targets() {
        let gap = Duration::from_millis(40);
        let limiter = HostLimiter::new(gap);
        // Two targets of one address (two ports), in flight together.
        let (a, b) = (limiter.enter(ip("192.0.2.1")), limiter.enter(ip("192.0.2.1")));
        let t1 = a.reserve().expect("limited");
        let t2 = b.reserve().expect("limited");
        let t3 = a.reserve().expect("limited");
        assert_eq!(t2 - t1, gap);
        assert_eq!(t3 - t2, gap);
        // Another address (IPv6 too) is not held back by the first.
        for other in ["192.0.2.2", "2001:db8::1"] {
            let c = limiter.enter(ip(other));
            assert!(c.reserve().expect("limited") <= Instant::now(), "{other} waited for 192.0.2.1");
        }
    }

    #[test]
    fn a_target_that_starts_as_another_ends_keeps_the_spacing() {
        let gap = Duration::from_millis(40);
        let limiter = HostLimiter::new(gap);
        let first = limiter.enter(ip("198.51.100.7"));
        let t1 = first.reserve().expect("limited");
        drop(first);
        let second = limiter.enter(ip("198.51.100.7"));
        assert_eq!(second.reserve().expect("limited") - t1, gap);
    }

    #[test]
    fn the_map_empties_when_the_targets_are_done() {
        let gap = Duration::from_millis(20);
        let limiter = HostLimiter::new(gap);
        let guards: Vec<_> = (0..1000u32).map(|i| limiter.enter(IpAddr::from(i.to_be_bytes()))).collect();
        for g in &guards {
            g.reserve();
        }
        assert_eq!(limiter.len(), 1000, "addresses in flight are kept");
        drop(guards);
        std::thread::sleep(gap * 2);
        assert_eq!(limiter.len(), 0);
        // A long scan that meets many addresses keeps the map as small as what is in flight: shards are swept as
        // they grow, without `len()`.
        for i in 0..20_000u32 {
            let g = limiter.enter(IpAddr::from(((i + 1) << 8).to_be_bytes()));
            g.reserve();
            drop(g);
            if i % 2_000 == 0 {
                std::thread::sleep(gap * 2);
            }
        }
        let held: usize = limiter.shards.iter().map(|s| lock(s).hosts.len()).sum();
        assert!(held < 20_000 / 2, "{held} addresses held after 20,000 targets");
    }

    #[test]
    fn zero_is_no_limit_and_no_map() {
        let limiter = HostLimiter::per_second(0);
        assert!(limiter.shards.is_empty());
        let g = limiter.enter(ip("192.0.2.1"));
        assert_eq!(g.reserve(), None);
        assert_eq!(HostLimiter::per_second(20).gap(), Duration::from_millis(50));
    }
}
