//! The engine's one random number generator: SplitMix64.
//!
//! Its whole state is one `u64`, stored in every checkpoint, so a restored engine draws
//! exactly the numbers the original would have drawn. The core never touches a global or
//! OS random source; seeds arrive with `Engine::new`.
//!
//! The stream is the portable one used by the benchmark peers (`shared/bench/anchors/common.py`):
//! `uniform() = (next() >> 11) * 2^-53`, `normal()` = Box-Muller on two uniforms, computed in
//! `f64` with `libm`, so Python, JS and Rust produce the same bits.

use serde::{Deserialize, Serialize};

/// SplitMix64 (Steele, Lea, Flood 2014). Small, fast, passes BigCrush; not cryptographic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    /// A generator whose first output is the SplitMix64 output for `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The raw state, for checkpoints.
    pub const fn state(&self) -> u64 {
        self.state
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(Self::GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by Box-Muller: two uniforms per call, no cached second value.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
    }

    /// Uniform integer in `[0, n)`, unbiased (Lemire's multiply-and-reject). `n == 0` gives 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// `true` with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Moves a uniformly random `k`-subset of `v`, in random order, to its front (a partial
    /// Fisher-Yates shuffle; `k >= v.len()` shuffles everything). Draws `min(k, len)` numbers.
    pub fn shuffle_prefix<T>(&mut self, v: &mut [T], k: usize) {
        let k = k.min(v.len());
        for i in 0..k {
            let j = i + self.below((v.len() - i) as u64) as usize;
            v.swap(i, j);
        }
    }

    /// Shuffles `v` uniformly.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        self.shuffle_prefix(v, v.len());
    }

    /// Derives an independent generator (for a sub-component), advancing this one.
    pub fn fork(&mut self) -> Self {
        Self::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vector() {
        // SplitMix64 outputs for seed 0, as published with the algorithm (and produced by
        // Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn uniform_and_normal_are_in_range_and_reproducible() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..1000 {
            let u = a.uniform();
            assert!((0.0..1.0).contains(&u));
            assert_eq!(u.to_bits(), b.uniform().to_bits());
            let n = a.normal();
            assert!(n.is_finite());
            assert_eq!(n.to_bits(), b.normal().to_bits());
        }
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = SplitMix64::new(3);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            let k = r.below(7);
            assert!(k < 7);
            counts[k as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.below(1), 0);
    }
}
