//! The lab's own pseudo-random generator: xoshiro256** seeded through SplitMix64.
//!
//! Implemented here rather than taken from a crate so that the output for a seed never changes with a dependency
//! update: a lab folder is ground truth for tests, and its bytes are pinned by seed.

/// SplitMix64 step (Steele, Lea, Flood 2014); used to expand a seed into xoshiro state and to derive sub-seeds.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** (Blackman, Vigna 2018).
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for `seed`; `stream` separates independent sequences drawn from one seed.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut sm = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Rng { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A number in `0..n` (Lemire's multiply-shift; the tiny bias is irrelevant here). `n == 0` gives 0.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn with the given weights (at least one must be positive).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A log-normal-ish positive integer around `median` (for latencies and sizes). Only table look-ups and
    /// basic arithmetic, which IEEE 754 makes exact everywhere: `exp` from the platform's maths library could
    /// differ in the last bit between systems and change the output of a seed.
    pub fn skewed(&mut self, median: u64) -> u64 {
        // exp((i - 16) * 0.15) for i in 0..=32.
        const FACTOR: [f64; 33] = [
            0.09072, 0.1054, 0.12246, 0.14227, 0.1653, 0.19205, 0.22313, 0.25924, 0.30119, 0.34994, 0.40657, 0.47237,
            0.54881, 0.63763, 0.74082, 0.86071, 1.0, 1.16183, 1.34986, 1.56831, 1.82212, 2.117, 2.4596, 2.85765,
            3.32012, 3.85743, 4.48169, 5.20698, 6.04965, 7.02869, 8.16617, 9.48774, 11.02318,
        ];
        let i = (0..4).map(|_| self.below(9)).sum::<u64>() as usize;
        ((median as f64) * FACTOR[i]) as u64
    }

    /// Lower-case hex digits.
    pub fn hex(&mut self, out: &mut String, digits: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut left = 0;
        let mut bits = 0u64;
        for _ in 0..digits {
            if left == 0 {
                bits = self.next_u64();
                left = 16;
            }
            out.push(HEX[(bits & 0xf) as usize] as char);
            bits >>= 4;
            left -= 1;
        }
    }

    /// A random (version 4 shaped) GUID, lower case with dashes.
    pub fn guid(&mut self) -> String {
        let mut s = String::with_capacity(36);
        self.hex(&mut s, 8);
        s.push('-');
        self.hex(&mut s, 4);
        s.push_str("-4");
        self.hex(&mut s, 3);
        s.push('-');
        s.push(*self.pick(&['8', '9', 'a', 'b']));
        self.hex(&mut s, 3);
        s.push('-');
        self.hex(&mut s, 12);
        s
    }

    /// `n` characters from `alphabet`.
    pub fn word(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // First outputs for seed 1234567 from the reference implementation (Vigna, splitmix64.c).
        let mut s = 1234567u64;
        assert_eq!(splitmix64(&mut s), 6457827717110365317);
        assert_eq!(splitmix64(&mut s), 3203168211198807973);
    }

    #[test]
    fn same_seed_same_sequence_and_streams_differ() {
        let mut a = Rng::new(7, 0);
        let mut b = Rng::new(7, 0);
        let mut c = Rng::new(7, 1);
        let xa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(1, 2);
        for n in [1u64, 2, 3, 10, 1000] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
        assert_eq!(r.below(0), 0);
    }
}
