//! ZMap's address permutation: a walk of the cyclic multiplicative group of integers modulo a prime `p` just above
//! the size of the target space. Element `x` of the group (1 ≤ x < p) stands for target index `x - 1`; indices past
//! the space are skipped. The generator and the starting element come from the seed, so the same seed gives the
//! same order on every machine, and no network sees a burst.
//!
//! Sharding (as zmap's `shard.c`): the walk visits `p - 1` elements in positions `0, 1, 2, …`; shard `i` of `n`
//! takes the positions `k ≡ i (mod n)`, i.e. starts at `x0·g^i` and steps by `g^n`. The shards partition the walk
//! exactly whatever `n` is (zmap issue #410 was a shard count that did not divide the walk); workers inside a shard
//! split it again the same way (sub-shard `i + n·w` of `n·W`).

use crate::error::ScanError;

fn mulmod(a: u64, b: u64, m: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(m)) as u64
}

fn powmod(mut b: u64, mut e: u64, m: u64) -> u64 {
    let mut r = 1 % m;
    b %= m;
    while e > 0 {
        if e & 1 == 1 {
            r = mulmod(r, b, m);
        }
        b = mulmod(b, b, m);
        e >>= 1;
    }
    r
}

/// Deterministic Miller–Rabin for 64-bit integers.
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let (mut d, mut s) = (n - 1, 0);
    while d % 2 == 0 {
        d /= 2;
        s += 1;
    }
    'w: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        let mut x = powmod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mulmod(x, x, n);
            if x == n - 1 {
                continue 'w;
            }
        }
        return false;
    }
    true
}

fn prime_factors(mut n: u64) -> Vec<u64> {
    let mut f = Vec::new();
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            f.push(d);
            while n.is_multiple_of(d) {
                n /= d;
            }
        }
        d += if d == 2 { 1 } else { 2 };
    }
    if n > 1 {
        f.push(n);
    }
    f
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The largest target space (targets × ports) a scan takes: 2^40.
pub const MAX_SPACE: u64 = 1 << 40;

/// A seeded permutation of `0..n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cycle {
    pub n: u64,
    pub p: u64,
    pub g: u64,
    pub x0: u64,
}

impl Cycle {
    pub fn new(n: u64, seed: u64) -> Result<Cycle, ScanError> {
        if n > MAX_SPACE {
            return Err(ScanError::Option {
                name: "targets",
                reason: format!("{n} targets × ports is more than 2^40; split the targets"),
            });
        }
        let mut p = (n + 1).max(3);
        while !is_prime(p) {
            p += 1;
        }
        let factors = prime_factors(p - 1);
        let mut st = seed ^ 0x6578_6875_6e74;
        let g = loop {
            let c = 2 + splitmix(&mut st) % (p - 2);
            if factors.iter().all(|q| powmod(c, (p - 1) / q, p) != 1) {
                break c;
            }
        };
        let x0 = 1 + splitmix(&mut st) % (p - 1);
        Ok(Cycle { n, p, g, x0 })
    }

    /// The indices of sub-shard `sub` of `subs`, in walk order.
    pub fn walk(&self, sub: u64, subs: u64) -> Walk {
        let len = self.p - 1;
        let count = if subs == 0 || sub >= len { 0 } else { (len - sub).div_ceil(subs) };
        Walk {
            x: mulmod(self.x0, powmod(self.g, sub, self.p), self.p),
            step: powmod(self.g, subs, self.p),
            p: self.p,
            n: self.n,
            left: count,
        }
    }
}

/// An iterator over target indices.
#[derive(Clone, Debug)]
pub struct Walk {
    x: u64,
    step: u64,
    p: u64,
    n: u64,
    left: u64,
}

impl Iterator for Walk {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        while self.left > 0 {
            let v = self.x - 1;
            self.x = mulmod(self.x, self.step, self.p);
            self.left -= 1;
            if v < self.n {
                return Some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_is_a_permutation() {
        for n in [1u64, 2, 3, 10, 97, 1000] {
            let c = Cycle::new(n, 7).expect("cycle");
            let mut seen: Vec<u64> = c.walk(0, 1).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n={n}");
        }
    }

    #[test]
    fn seeds_change_the_order() {
        let a: Vec<u64> = Cycle::new(1000, 1).expect("c").walk(0, 1).collect();
        let b: Vec<u64> = Cycle::new(1000, 2).expect("c").walk(0, 1).collect();
        assert_ne!(a, b);
    }
}
